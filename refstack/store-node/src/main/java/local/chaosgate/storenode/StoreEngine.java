package local.chaosgate.storenode;

import org.apache.logging.log4j.Logger;

/** The engine-specific part of a launcher: its node, built from the options, and its first steps. */
public interface StoreEngine<N extends StoreNode> {

    /** Builds the node (settings, environment, plugins); it is not started yet. */
    N create(NodeOptions options) throws Exception;

    /**
     * Runs once the node has started and the shutdown hook is in place: settings that live in
     * the cluster state, then the ready line once health is at least yellow. It logs its own
     * failures as warnings: the node keeps running.
     */
    void started(N node, NodeOptions options, Logger log);
}
