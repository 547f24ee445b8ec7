package local.chaosgate.storenode;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A store launcher's command line, checked:
 * {@code --http.port N --path.home DIR [--path.data DIR] [--path.logs DIR] [--transport.port N]
 * [--cluster.name NAME] [--node.name NAME]}, each as {@code --key value} or {@code --key=value}.
 */
public record NodeOptions(int httpPort, int transportPort, NodePaths paths, String clusterName, String nodeName) {

    private static final List<String> KNOWN = List.of(
        "http.port", "transport.port", "path.home", "path.data", "path.logs", "cluster.name", "node.name");
    private static final String USAGE = "usage: --http.port N --path.home DIR [--path.data DIR] [--path.logs DIR]"
        + " [--transport.port N] [--cluster.name NAME] [--node.name NAME]";

    /**
     * Reads {@code args}; a bad one is a {@link Fatal} with {@link ExitCodes#USAGE} whose
     * message names it. {@code examplePort} is the http port the messages show as an example.
     */
    public static NodeOptions parse(String[] args, int examplePort) throws Fatal {
        Map<String, String> values = keyValues(args, examplePort);
        int httpPort = port(values, "http.port", null);
        int transportPort = port(values, "transport.port", httpPort + 100);
        if (httpPort == transportPort) {
            throw new Fatal(ExitCodes.USAGE, "--http.port and --transport.port must differ");
        }
        if (!values.containsKey("path.home")) {
            throw new Fatal(ExitCodes.USAGE, "--path.home is required");
        }
        NodePaths paths = NodePaths.of(values.get("path.home"), values.get("path.data"), values.get("path.logs"));
        return new NodeOptions(
            httpPort,
            transportPort,
            paths,
            values.getOrDefault("cluster.name", "chaosgate"),
            values.getOrDefault("node.name", "chaosgate-node"));
    }

    private static Map<String, String> keyValues(String[] args, int examplePort) throws Fatal {
        Map<String, String> values = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (arg.equals("-h") || arg.equals("--help")) {
                throw new Fatal(ExitCodes.USAGE, USAGE);
            }
            if (!arg.startsWith("--") || arg.length() == 2) {
                throw new Fatal(ExitCodes.USAGE,
                    "unexpected argument '" + arg + "' (options look like --http.port " + examplePort + ")");
            }
            final String key;
            final String value;
            int eq = arg.indexOf('=');
            if (eq > 0) {
                key = arg.substring(2, eq);
                value = arg.substring(eq + 1);
            } else {
                key = arg.substring(2);
                if (i + 1 >= args.length) {
                    throw new Fatal(ExitCodes.USAGE, "option --" + key + " needs a value");
                }
                value = args[++i];
            }
            if (!KNOWN.contains(key)) {
                throw new Fatal(ExitCodes.USAGE,
                    "unknown option --" + key + " (known: " + String.join(", ", KNOWN) + ")");
            }
            if (value.isEmpty()) {
                throw new Fatal(ExitCodes.USAGE, "option --" + key + " has an empty value");
            }
            if (values.put(key, value) != null) {
                throw new Fatal(ExitCodes.USAGE, "option --" + key + " given twice");
            }
        }
        return values;
    }

    private static int port(Map<String, String> values, String key, Integer fallback) throws Fatal {
        String text = values.get(key);
        if (text == null) {
            if (fallback == null) {
                throw new Fatal(ExitCodes.USAGE, "--" + key + " is required");
            }
            text = fallback.toString();
        }
        final int port;
        try {
            port = Integer.parseInt(text);
        } catch (NumberFormatException e) {
            throw new Fatal(ExitCodes.USAGE, "--" + key + " must be a number, got '" + text + "'");
        }
        if (port < 1 || port > 65535) {
            throw new Fatal(ExitCodes.USAGE, "--" + key + " must be in 1..65535, got " + port);
        }
        return port;
    }
}
