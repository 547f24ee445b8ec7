"""Where a spec_path is found and what a spec file may hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaosgate.chaos.k8s_specs import SpecError, load_spec_documents, resolve_spec_path

REPO_ROOT = Path(__file__).resolve().parents[3]
CPU = "manifests/chaos/stress-cpu.yaml"


def test_a_relative_path_is_found_from_any_directory(tmp_path: Path) -> None:
    # the runner may start elsewhere: the checkout (CHAOSGATE_HOME) is the fallback
    assert resolve_spec_path(CPU, cwd=tmp_path, env={}) == REPO_ROOT / CPU
    other_home = tmp_path / "home"
    (other_home / "manifests" / "chaos").mkdir(parents=True)
    (other_home / CPU).write_text("kind: Job\n")
    assert resolve_spec_path(CPU, cwd=tmp_path, env={"CHAOSGATE_HOME": str(other_home)}) == (
        other_home / CPU
    )
    # the current directory wins, as chaosk8s itself opens spec files from there
    (tmp_path / "manifests" / "chaos").mkdir(parents=True)
    (tmp_path / CPU).write_text("kind: Job\n")
    assert resolve_spec_path(CPU, cwd=tmp_path, env={}) == tmp_path / CPU


def test_an_absolute_path_is_taken_as_given_and_a_missing_one_is_named(tmp_path: Path) -> None:
    spec = tmp_path / "job.yaml"
    spec.write_text("kind: Job\n")
    assert resolve_spec_path(str(spec), cwd=REPO_ROOT, env={}) == spec
    with pytest.raises(SpecError, match=r"spec file 'nope\.yaml' not found \(neither "):
        resolve_spec_path("nope.yaml", cwd=tmp_path, env={})


def test_documents_of_yaml_and_json_files(tmp_path: Path) -> None:
    multi = tmp_path / "two.yml"
    multi.write_text("kind: Job\nmetadata: {name: a}\n---\n---\nkind: Service\nmetadata: {}\n")
    assert [doc["kind"] for doc in load_spec_documents(multi)] == ["Job", "Service"]
    single = tmp_path / "one.json"
    single.write_text('{"kind": "Job", "metadata": {"namespace": "restaurant"}}')
    assert load_spec_documents(single)[0]["metadata"]["namespace"] == "restaurant"
    assert load_spec_documents(REPO_ROOT / CPU)[0]["kind"] == "Job"


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        ("empty.yaml", "", "is empty"),
        ("list.yaml", "- a\n- b\n", "document 0 is not a Kubernetes object"),
        ("meta.yaml", "kind: Job\nmetadata: [1]\n", "metadata is not a mapping"),
        ("bad.yaml", "kind: [", "is not valid JSON/YAML"),
        ("bad.json", "{", "is not valid JSON/YAML"),
        ("job.txt", "kind: Job\n", "neither .json nor .yaml"),
    ],
)
def test_bad_spec_files_say_what_is_wrong(
    tmp_path: Path, name: str, text: str, fragment: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        load_spec_documents(path)
    assert fragment in str(info.value) and str(path) in str(info.value)
