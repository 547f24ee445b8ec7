package local.chaosgate.storenode;

import java.net.BindException;

/** What an exception from building or starting a node means for the exit code and the one line. */
public final class StartFailure {

    private StartFailure() {}

    /** {@link ExitCodes#PORT_IN_USE} when a bind failed anywhere in the causes, else START_FAILED. */
    public static int exitCode(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            // Netty's own bind failures are not all java.net.BindException, hence the name test
            if (t instanceof BindException || t.getClass().getSimpleName().startsWith("Bind")) {
                return ExitCodes.PORT_IN_USE;
            }
        }
        return ExitCodes.START_FAILED;
    }

    /** The exception's message, then its root cause's in parentheses when that is another one. */
    public static String describe(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        String rootText = root == e ? null : root.getMessage();
        return message + (rootText == null ? "" : " (" + rootText + ")");
    }
}
