package local.chaosgate.storenode;

import java.io.IOException;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * A store launcher's {@code main}: options and ports checked before anything starts, the
 * directories made, the engine's node built and started, then kept until SIGTERM.
 * Exit codes are {@link ExitCodes}; every refusal or failure prints one {@link FailureLine}.
 */
public final class StoreNodeLauncher {

    private final int examplePort;
    private final Class<?> mainClass;
    private final FailureLine failureLine;

    /**
     * {@code name} prefixes the failure lines ({@code chaosgate-opensearch}), {@code examplePort}
     * is the http port usage messages show, {@code mainClass} names the logger.
     */
    public StoreNodeLauncher(String name, int examplePort, Class<?> mainClass) {
        this.examplePort = examplePort;
        this.mainClass = mainClass;
        this.failureLine = new FailureLine(name);
    }

    /** Runs the node until SIGTERM (the shutdown hook then ends the JVM) or exits with a code. */
    public <N extends StoreNode> void launch(String[] args, StoreEngine<N> engine) {
        final NodeOptions options;
        try {
            options = NodeOptions.parse(args, examplePort);
            PortProbe.requireFree("http", options.httpPort());
            PortProbe.requireFree("transport", options.transportPort());
        } catch (Fatal f) {
            failureLine.print(f.getMessage());
            System.exit(f.code());
            return;
        }
        int code = run(options, engine);
        if (code != ExitCodes.CLEAN_STOP) {
            LogManager.shutdown();
            System.exit(code);
        }
    }

    private <N extends StoreNode> int run(NodeOptions options, StoreEngine<N> engine) {
        try {
            options.paths().create();
        } catch (IOException e) {
            failureLine.print("cannot create directory: " + e);
            return ExitCodes.USAGE;
        }
        Logger log = LogManager.getLogger(mainClass);
        final N node;
        try {
            node = engine.create(options);
        } catch (Exception e) {
            return fail(log, "node construction failed", e);
        }
        try {
            node.startNode();
        } catch (Exception e) {
            int code = fail(log, "node start failed", e);
            closeQuietly(node);
            return code;
        }
        NodeLifetime lifetime = new NodeLifetime(node, log);
        lifetime.begin();
        engine.started(node, options, log);
        lifetime.awaitStop();
        return ExitCodes.CLEAN_STOP;
    }

    private int fail(Logger log, String what, Exception e) {
        log.error(what, e);
        failureLine.print(what + ": " + StartFailure.describe(e));
        return StartFailure.exitCode(e);
    }

    private static void closeQuietly(StoreNode node) {
        try {
            node.close();
        } catch (IOException | RuntimeException ignored) {
            // best effort: the process is exiting
        }
    }
}
