package local.chaosgate.opensearch;

import java.io.IOException;
import java.io.PrintStream;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.opensearch.action.admin.cluster.health.ClusterHealthResponse;
import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
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
 * Exit codes: 0 clean stop, 1 start failure, 2 bad argument, 3 port already in use.
 */
public final class Main {

    static final int EXIT_START_FAILED = 1;
    static final int EXIT_USAGE = 2;
    static final int EXIT_PORT_IN_USE = 3;

    private static final String PREFIX = "chaosgate-opensearch: ";
    private static final Set<String> KNOWN = Set.of(
        "http.port", "transport.port", "path.home", "path.data", "path.logs", "cluster.name", "node.name");
    private static final List<Class<? extends Plugin>> PLUGINS =
        List.of(Netty4Plugin.class, CommonAnalysisPlugin.class, PainlessPlugin.class);

    private Main() {}

    /** One-line failure with an exit code; thrown before the node exists. */
    static final class Fatal extends Exception {
        final int code;

        Fatal(int code, String message) {
            super(message);
            this.code = code;
        }
    }

    public static void main(String[] args) {
        final Map<String, String> opts;
        final int httpPort;
        final int transportPort;
        try {
            opts = parse(args);
            httpPort = port(opts, "http.port", null);
            transportPort = port(opts, "transport.port", httpPort + 100);
            if (httpPort == transportPort) {
                throw new Fatal(EXIT_USAGE, "--http.port and --transport.port must differ");
            }
            if (!opts.containsKey("path.home")) {
                throw new Fatal(EXIT_USAGE, "--path.home is required");
            }
            checkPortFree("http", httpPort);
            checkPortFree("transport", transportPort);
        } catch (Fatal f) {
            die(f.getMessage());
            System.exit(f.code);
            return;
        }
        int code = run(opts, httpPort, transportPort);
        if (code != 0) {
            LogManager.shutdown();
            System.exit(code);
        }
    }

    static Map<String, String> parse(String[] args) throws Fatal {
        Map<String, String> opts = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("-h") || a.equals("--help")) {
                throw new Fatal(EXIT_USAGE, "usage: --http.port N --path.home DIR [--path.data DIR] [--path.logs DIR]"
                    + " [--transport.port N] [--cluster.name NAME] [--node.name NAME]");
            }
            if (!a.startsWith("--") || a.length() == 2) {
                throw new Fatal(EXIT_USAGE, "unexpected argument '" + a + "' (options look like --http.port 19200)");
            }
            String key;
            String value;
            int eq = a.indexOf('=');
            if (eq > 0) {
                key = a.substring(2, eq);
                value = a.substring(eq + 1);
            } else {
                key = a.substring(2);
                if (i + 1 >= args.length) {
                    throw new Fatal(EXIT_USAGE, "option --" + key + " needs a value");
                }
                value = args[++i];
            }
            if (!KNOWN.contains(key)) {
                throw new Fatal(EXIT_USAGE, "unknown option --" + key + " (known: " + String.join(", ", KNOWN) + ")");
            }
            if (value.isEmpty()) {
                throw new Fatal(EXIT_USAGE, "option --" + key + " has an empty value");
            }
            if (opts.put(key, value) != null) {
                throw new Fatal(EXIT_USAGE, "option --" + key + " given twice");
            }
        }
        return opts;
    }

    static int port(Map<String, String> opts, String key, Integer dflt) throws Fatal {
        String v = opts.get(key);
        if (v == null) {
            if (dflt == null) {
                throw new Fatal(EXIT_USAGE, "--" + key + " is required");
            }
            v = dflt.toString();
        }
        int p;
        try {
            p = Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new Fatal(EXIT_USAGE, "--" + key + " must be a number, got '" + v + "'");
        }
        if (p < 1 || p > 65535) {
            throw new Fatal(EXIT_USAGE, "--" + key + " must be in 1..65535, got " + p);
        }
        return p;
    }

    /** Fails fast with a clear message instead of a stack trace from deep inside Netty. */
    static void checkPortFree(String what, int port) throws Fatal {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true); // tolerate TIME_WAIT from a previous run, like Netty does
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1);
        } catch (IOException e) {
            throw new Fatal(EXIT_PORT_IN_USE, what + " port " + port + " on 127.0.0.1 is already in use");
        }
    }

    private static int run(Map<String, String> opts, int httpPort, int transportPort) {
        Path home = Paths.get(opts.get("path.home")).toAbsolutePath().normalize();
        Path data = Paths.get(opts.getOrDefault("path.data", home.resolve("data").toString())).toAbsolutePath().normalize();
        Path logs = Paths.get(opts.getOrDefault("path.logs", home.resolve("logs").toString())).toAbsolutePath().normalize();
        Path config = home.resolve("config");
        try {
            for (Path p : List.of(home, data, logs, config, home.resolve("plugins"))) {
                Files.createDirectories(p);
            }
        } catch (IOException e) {
            die("cannot create directory: " + e);
            return EXIT_USAGE;
        }

        String clusterName = opts.getOrDefault("cluster.name", "chaosgate");
        String nodeName = opts.getOrDefault("node.name", "chaosgate-node");
        Settings settings = Settings.builder()
            .put("path.home", home.toString())
            .put("path.data", data.toString())
            .put("path.logs", logs.toString())
            .put("cluster.name", clusterName)
            .put("node.name", nodeName)
            .put("discovery.type", "single-node")
            .put("network.host", "127.0.0.1")
            .put("http.port", httpPort)
            .put("transport.port", transportPort)
            // a nearly full disk must not flip indices to read-only during a test run
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("action.auto_create_index", "true")
            .build();

        Logger log = LogManager.getLogger(Main.class);
        Environment env = InternalSettingsPreparer.prepareEnvironment(settings, Collections.emptyMap(), config, () -> nodeName);

        final Node node;
        try {
            node = new ChaosgateNode(env, PLUGINS);
        } catch (Exception e) {
            return fail(log, "node construction failed", e);
        }

        CountDownLatch stopped = new CountDownLatch(1);
        // Non-daemon thread: OpenSearch's own threads are daemons, so this is what keeps the JVM up.
        Thread keepAlive = new Thread(() -> {
            try {
                stopped.await();
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
        }, "chaosgate-keepalive");
        keepAlive.setDaemon(false);

        Thread hook = new Thread(() -> {
            log.info("shutdown requested, closing node");
            int status = 0;
            try {
                node.close();
                if (!node.awaitClose(10, TimeUnit.SECONDS)) {
                    log.warn("node did not close within 10s");
                    status = 1;
                }
                log.info("node closed");
            } catch (Exception e) {
                log.error("error while closing node", e);
                status = 1;
            } finally {
                stopped.countDown();
                LogManager.shutdown(); // log4j's own hook is disabled in log4j2.xml so close messages get out
            }
            // A clean stop on SIGTERM exits 0 (instead of the JVM's 143), a failed close 1.
            Runtime.getRuntime().halt(status);
        }, "chaosgate-shutdown");

        try {
            node.start();
        } catch (Exception e) {
            int code = fail(log, "node start failed", e);
            closeQuietly(node);
            return code;
        }
        Runtime.getRuntime().addShutdownHook(hook);
        keepAlive.start();

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
            log.info("chaosgate-opensearch ready: http://127.0.0.1:{} cluster={} status={}",
                httpPort, clusterName, health.getStatus().name().toLowerCase());
        } catch (Exception e) {
            log.warn("started, but cluster health could not be read: {}", e.toString());
        }
        try {
            keepAlive.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 0;
    }

    private static int fail(Logger log, String what, Throwable e) {
        int code = isBindFailure(e) ? EXIT_PORT_IN_USE : EXIT_START_FAILED;
        log.error(what, e);
        die(what + ": " + rootMessage(e));
        return code;
    }

    private static boolean isBindFailure(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof BindException || t.getClass().getSimpleName().startsWith("Bind")) {
                return true;
            }
        }
        return false;
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        String m = e.getMessage();
        String r = t == e ? null : t.getMessage();
        return (m == null ? e.getClass().getSimpleName() : m) + (r == null ? "" : " (" + r + ")");
    }

    private static void closeQuietly(Node node) {
        try {
            node.close();
        } catch (IOException | RuntimeException ignored) {
            // best effort: we are exiting anyway
        }
    }

    /** The one-line message a caller (the Python launcher) can show as is. */
    private static void die(String message) {
        PrintStream err = System.err;
        err.println(PREFIX + message.replace('\n', ' '));
        err.flush();
    }
}
