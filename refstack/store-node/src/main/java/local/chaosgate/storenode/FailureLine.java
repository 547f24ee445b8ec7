package local.chaosgate.storenode;

/**
 * The one line on stderr that says why a launcher stops, prefixed with its name
 * ({@code chaosgate-opensearch: ...}), so a caller (the Python launcher) can show it as it is.
 */
public final class FailureLine {

    private final String prefix;

    public FailureLine(String launcherName) {
        this.prefix = launcherName + ": ";
    }

    public void print(String message) {
        System.err.println(prefix + message.replace('\n', ' '));
        System.err.flush();
    }
}
