package local.chaosgate.elasticsearch;

import java.util.Collection;
import java.util.List;

import org.elasticsearch.cluster.metadata.IndexMetadata;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.index.shard.IndexSettingProvider;
import org.elasticsearch.plugins.Plugin;

/**
 * New indices get {@code index.number_of_replicas: 0} unless a template or the create request
 * says otherwise: on one node a replica can never be assigned, and the index would stay yellow.
 *
 * Elasticsearch has no cluster setting for the default replica count (OpenSearch's
 * {@code cluster.default_number_of_replicas}); node settings must not hold index settings, and a
 * catch-all template would be overridden by, or clash with, the user's own composable templates.
 * An {@link IndexSettingProvider}'s settings are applied before the templates' and the request's,
 * so those still win.
 */
public final class NoReplicasPlugin extends Plugin {

    private static final Settings NO_REPLICAS =
        Settings.builder().put(IndexMetadata.SETTING_NUMBER_OF_REPLICAS, 0).build();

    @Override
    public Collection<IndexSettingProvider> getAdditionalIndexSettingProviders() {
        return List.of(new IndexSettingProvider() {
            @Override
            public Settings getAdditionalIndexSettings(String indexName, boolean isDataStreamIndex, Settings templateAndRequestSettings) {
                return NO_REPLICAS;
            }
        });
    }
}
