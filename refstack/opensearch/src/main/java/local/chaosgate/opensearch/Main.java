package local.chaosgate.opensearch;

import java.util.Collections;
import java.util.List;

import local.chaosgate.storenode.NodeOptions;
import local.chaosgate.storenode.NodePaths;
import local.chaosgate.storenode.StoreEngine;
import local.chaosgate.storenode.StoreNodeLauncher;
import org.apache.logging.log4j.Logger;
import org.opensearch.action.admin.cluster.health.ClusterHealthResponse;
import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * Starts a single-node OpenSearch on 127.0.0.1 with the Netty4 (HTTP + transport),
 * common-analysis and Painless plugins loaded from the classpath.
 *
 * <pre>
 * java -cp 'target/chaosgate-opensearch.jar:target/lib/*' local.chaosgate.opensearch.Main \
 *   --http.port 19200 --path.home DIR [--path.data DIR] [--path.logs DIR]
 *   [--transport.port N (default http.port+100)] [--cluster.name NAME] [--node.name NAME]
 * </pre>
 *
 * Options, exit codes (0 clean stop, 1 start failure, 2 bad argument, 3 port already in use) and
 * the keep-alive until SIGTERM are the store launchers' shared code, local.chaosgate.storenode
 * (refstack/store-node); this class holds what is OpenSearch's own.
 */
public final class Main implements StoreEngine<ChaosgateNode> {

    static final String NAME = "chaosgate-opensearch";
    private static final List<Class<? extends Plugin>> PLUGINS =
        List.of(Netty4Plugin.class, CommonAnalysisPlugin.class, PainlessPlugin.class);

    private Main() {}

    public static void main(String[] args) {
        new StoreNodeLauncher(NAME, 19200, Main.class).launch(args, new Main());
    }

    // The settings, the node and the health wait read like the Elasticsearch launcher's, but
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
            // a nearly full disk must not flip indices to read-only during a test run
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
        try {
            // One node: replicas can never be assigned. New indices (auto-created ones and
            // data-stream backing indices included) get none, so the cluster stays green.
            // This setting is read from the cluster state, not from node settings, hence the update.
            node.client().admin().cluster().prepareUpdateSettings()
                .setPersistentSettings(Settings.builder().put("cluster.default_number_of_replicas", 0))
                .get();
        } catch (Exception e) {
            log.warn("could not set cluster.default_number_of_replicas=0: {}", e.toString());
        }
        try {
            ClusterHealthResponse health = node.client().admin().cluster().prepareHealth()
                .setWaitForYellowStatus().setTimeout("60s").get();
            log.info("{} ready: http://127.0.0.1:{} cluster={} status={}",
                NAME, options.httpPort(), options.clusterName(), health.getStatus().name().toLowerCase());
        } catch (Exception e) {
            log.warn("started, but cluster health could not be read: {}", e.toString());
        }
    }
}
