package local.chaosgate.elasticsearch;

import java.util.Collection;

import local.chaosgate.storenode.StoreNode;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.Node;
import org.elasticsearch.node.NodeValidationException;
import org.elasticsearch.plugins.Plugin;

/**
 * An Elasticsearch {@link Node} that takes its plugins as classes on the classpath rather than
 * from a plugins/ directory of the distribution; the constructor that accepts them is protected.
 */
final class ChaosgateNode extends Node implements StoreNode {

    ChaosgateNode(Environment environment, Collection<Class<? extends Plugin>> classpathPlugins) {
        // forbidPrivateIndexSettings = true, as for a node started by the distribution
        super(environment, classpathPlugins, true);
    }

    @Override
    public void startNode() throws NodeValidationException {
        start();
    }
}
