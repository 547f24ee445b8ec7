package local.chaosgate.opensearch;

import java.util.Collection;

import org.opensearch.env.Environment;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;

/**
 * A {@link Node} whose plugins come from the classpath instead of a plugins/ directory.
 * The constructor that accepts plugin classes is protected in OpenSearch, hence this subclass.
 */
final class ChaosgateNode extends Node {

    ChaosgateNode(Environment environment, Collection<Class<? extends Plugin>> classpathPlugins) {
        // forbidPrivateIndexSettings = true: same as a regular distribution node
        super(environment, classpathPlugins, true);
    }
}
