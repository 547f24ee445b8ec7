package local.chaosgate.storenode;

/** How a store launcher's JVM ends; the Python launcher reads these. */
public final class ExitCodes {

    /** SIGTERM and the node closed in time. */
    public static final int CLEAN_STOP = 0;
    /** The node could not be built or started, or did not close in time. */
    public static final int START_FAILED = 1;
    /** A bad or missing argument, or a directory that cannot be created. */
    public static final int USAGE = 2;
    /** The http or transport port is taken on 127.0.0.1. */
    public static final int PORT_IN_USE = 3;

    private ExitCodes() {}
}
