package local.chaosgate.opensearch;

import java.util.Collection;

import local.chaosgate.storenode.StoreNode;
import org.opensearch.env.Environment;
import org.opensearch.node.Node;
import org.opensearch.node.NodeValidationException;
import org.opensearch.plugins.Plugin;

/**
 * A {@link Node} whose plugins come from the classpath instead of a plugins/ directory.
 * The constructor that accepts plugin classes is protected in OpenSearch, hence this subclass.
 */
final class ChaosgateNode extends Node implements StoreNode {

    ChaosgateNode(Environment environment, Collection<Class<? extends Plugin>> classpathPlugins) {
        // forbidPrivateIndexSettings = true: same as a regular distribution node
        super(environment, classpathPlugins, true);
    }

    @Override
    public void startNode() throws NodeValidationException {
        start();
    }
}
