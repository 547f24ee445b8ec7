"""Reports of a run: summary.json, junit.xml and allure-results/, all from CheckResults."""
