package local.chaosgate.storenode;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * Keeps the JVM up while the node runs and closes the node on SIGTERM. The engines' own threads
 * are daemons, so a non-daemon thread waits here; the shutdown hook closes the node, flushes
 * log4j and halts with 0 for a clean close (not the JVM's 143) or 1 for a failed one.
 */
public final class NodeLifetime {

    private static final long CLOSE_TIMEOUT_S = 10;

    private final StoreNode node;
    private final Logger log;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final Thread keepAlive = new Thread(this::waitForStop, "chaosgate-keepalive");

    public NodeLifetime(StoreNode node, Logger log) {
        this.node = node;
        this.log = log;
        keepAlive.setDaemon(false);
    }

    /** Installs the shutdown hook and starts the thread that keeps the JVM running. */
    public void begin() {
        Runtime.getRuntime().addShutdownHook(new Thread(this::closeAndHalt, "chaosgate-shutdown"));
        keepAlive.start();
    }

    /** Returns once the shutdown hook has closed the node. */
    public void awaitStop() {
        try {
            keepAlive.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void waitForStop() {
        try {
            stopped.await();
        } catch (InterruptedException ignored) {
            Thread.currentThread().interrupt();
        }
    }

    private void closeAndHalt() {
        log.info("shutdown requested, closing node");
        int status = ExitCodes.CLEAN_STOP;
        try {
            node.close();
            if (!node.awaitClose(CLOSE_TIMEOUT_S, TimeUnit.SECONDS)) {
                log.warn("node did not close within {}s", CLOSE_TIMEOUT_S);
                status = ExitCodes.START_FAILED;
            }
            log.info("node closed");
        } catch (Exception e) {
            log.error("error while closing node", e);
            status = ExitCodes.START_FAILED;
        } finally {
            stopped.countDown();
            LogManager.shutdown(); // log4j's own hook is off (log4j2.xml), so the lines above get out
        }
        Runtime.getRuntime().halt(status);
    }
}
