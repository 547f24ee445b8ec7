package local.chaosgate.storenode;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;

/** Refuses a taken port up front, with one clear line instead of a stack trace from inside Netty. */
public final class PortProbe {

    private PortProbe() {}

    /** {@code what} names the port in the message ("http", "transport"). */
    public static void requireFree(String what, int port) throws Fatal {
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(true); // a previous run's TIME_WAIT is no conflict, as for Netty
            socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1);
        } catch (IOException e) {
            throw new Fatal(ExitCodes.PORT_IN_USE, what + " port " + port + " on 127.0.0.1 is already in use");
        }
    }
}
