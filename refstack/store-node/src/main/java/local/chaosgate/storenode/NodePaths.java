package local.chaosgate.storenode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;

/**
 * The node's directories, absolute: {@code --path.home}, and data and logs (by default
 * home/data and home/logs); config and plugins always sit in home, as the node expects them.
 */
public record NodePaths(Path home, Path data, Path logs) {

    /** {@code data} and {@code logs} may be null: their defaults under {@code home} apply. */
    static NodePaths of(String home, String data, String logs) {
        Path homePath = absolute(home);
        return new NodePaths(
            homePath,
            data == null ? homePath.resolve("data") : absolute(data),
            logs == null ? homePath.resolve("logs") : absolute(logs));
    }

    public Path config() {
        return home.resolve("config");
    }

    public Path plugins() {
        return home.resolve("plugins");
    }

    /** Creates every directory that does not exist yet (the node refuses to start without them). */
    public void create() throws IOException {
        for (Path dir : List.of(home, data, logs, config(), plugins())) {
            Files.createDirectories(dir);
        }
    }

    private static Path absolute(String path) {
        return Paths.get(path).toAbsolutePath().normalize();
    }
}
