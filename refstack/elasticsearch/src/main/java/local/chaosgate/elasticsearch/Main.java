package local.chaosgate.elasticsearch;

import java.util.Collections;
import java.util.List;
import java.util.Locale;

import local.chaosgate.storenode.NodeOptions;
import local.chaosgate.storenode.NodePaths;
import local.chaosgate.storenode.StoreEngine;
import local.chaosgate.storenode.StoreNodeLauncher;
import org.apache.logging.log4j.Logger;
import org.elasticsearch.action.admin.cluster.health.ClusterHealthResponse;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.core.TimeValue;
import org.elasticsearch.env.Environment;
import org.elasticsearch.index.mapper.MapperExtrasPlugin;
import org.elasticsearch.index.rankeval.RankEvalPlugin;
import org.elasticsearch.join.ParentJoinPlugin;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.percolator.PercolatorPlugin;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.reindex.ReindexPlugin;
import org.elasticsearch.script.mustache.MustachePlugin;
import org.elasticsearch.search.aggregations.matrix.MatrixAggregationPlugin;
import org.elasticsearch.transport.Netty4Plugin;

/**
 * Starts a single-node Elasticsearch 7.17 on 127.0.0.1 with the modules Maven Central serves
 * (Netty4 HTTP + transport, mapper-extras, reindex, mustache, parent-join, percolator,
 * matrix-stats, rank-eval) loaded from the classpath, plus {@link NoReplicasPlugin}.
 *
 * <pre>
 * java $(cat jvm.options) -cp 'target/chaosgate-elasticsearch.jar:target/lib/*' local.chaosgate.elasticsearch.Main \
 *   --http.port 19400 --path.home DIR [--path.data DIR] [--path.logs DIR]
 *   [--transport.port N (default http.port+100)] [--cluster.name NAME] [--node.name NAME]
 * </pre>
 *
 * Options, exit codes (0 clean stop, 1 start failure, 2 bad argument, 3 port already in use) and
 * the keep-alive until SIGTERM are the store launchers' shared code, local.chaosgate.storenode
 * (refstack/store-node); this class holds what is Elasticsearch's own.
 */
public final class Main implements StoreEngine<ChaosgateNode> {

    static final String NAME = "chaosgate-elasticsearch";
    private static final List<Class<? extends Plugin>> PLUGINS = List.of(
        Netty4Plugin.class,
        MapperExtrasPlugin.class,
        ReindexPlugin.class,
        MustachePlugin.class,
        ParentJoinPlugin.class,
        PercolatorPlugin.class,
        MatrixAggregationPlugin.class,
        RankEvalPlugin.class,
        NoReplicasPlugin.class);

    private Main() {}

    public static void main(String[] args) {
        new StoreNodeLauncher(NAME, 19400, Main.class).launch(args, new Main());
    }

    // The settings, the node and the health wait read like the OpenSearch launcher's, but
    // Settings, Node and the client are each engine's own types, so they stay here, not in
    // local.chaosgate.storenode.
    static Settings nodeSettings(NodeOptions options) {
        NodePaths paths = options.paths();
        return Settings.builder()
            .put("path.home", paths.home().toString())
            .put("path.data", paths.data().toString())
            .put("path.logs", paths.logs().toString())
            .put("cluster.name", options.clusterName())
            .put("node.name", options.nodeName())
            .put("discovery.type", "single-node")
            .put("network.host", "127.0.0.1")
            .put("http.port", options.httpPort())
            .put("transport.port", options.transportPort())
            // a nearly full disk must not flip indices to read-only in the middle of a test run
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("action.auto_create_index", "true")
            .build();
    }

    @Override
    public ChaosgateNode create(NodeOptions options) {
        Environment env = InternalSettingsPreparer.prepareEnvironment(
            nodeSettings(options), Collections.emptyMap(), options.paths().config(), options::nodeName);
        return new ChaosgateNode(env, PLUGINS);
    }

    @Override
    public void started(ChaosgateNode node, NodeOptions options, Logger log) {
        // no replicas setting here: NoReplicasPlugin gives new indices none
        try {
            ClusterHealthResponse health = node.client().admin().cluster().prepareHealth()
                .setWaitForYellowStatus().setTimeout(TimeValue.timeValueSeconds(60)).get();
            log.info("{} ready: http://127.0.0.1:{} cluster={} status={}",
                NAME, options.httpPort(), options.clusterName(), health.getStatus().name().toLowerCase(Locale.ROOT));
        } catch (Exception e) {
            log.warn("started, but cluster health could not be read: {}", e.toString());
        }
    }
}
