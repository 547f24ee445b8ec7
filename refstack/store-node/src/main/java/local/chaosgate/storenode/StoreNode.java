package local.chaosgate.storenode;

import java.io.Closeable;
import java.util.concurrent.TimeUnit;

/**
 * What the launcher needs of an engine's node. The engine's {@code Node} subclass implements it:
 * {@code close} and {@code awaitClose} are the node's own methods.
 */
public interface StoreNode extends Closeable {

    /** Starts the node (its {@code start()}, whose return type differs between the engines). */
    void startNode() throws Exception;

    /** True when the node's services stopped within the timeout after {@link #close()}. */
    boolean awaitClose(long timeout, TimeUnit unit) throws InterruptedException;
}
