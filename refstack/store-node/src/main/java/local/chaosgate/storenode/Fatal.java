package local.chaosgate.storenode;

/** A one-line refusal with its exit code ({@link ExitCodes}), raised before the node exists. */
public final class Fatal extends Exception {

    private static final long serialVersionUID = 1L;

    private final int code;

    public Fatal(int code, String message) {
        super(message);
        this.code = code;
    }

    public int code() {
        return code;
    }
}
