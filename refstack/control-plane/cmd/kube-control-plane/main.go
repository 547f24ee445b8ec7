// Command kube-control-plane is kube-apiserver, kube-controller-manager, kube-scheduler and
// kubectl in one binary, so the four link once (kubectl brings kustomize and server-side
// dry-run for the manifests). It runs the command named by the name it was
// started under (a symlink such as kube-apiserver -> kube-control-plane), or, started under
// any other name, by its first argument: `kube-control-plane kube-scheduler --help`.
//
// Each branch does what the command's own main.go in k8s.io/kubernetes/cmd/<name> does.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	_ "time/tzdata" // for timeZone support in CronJob (kube-apiserver, kube-controller-manager)

	"github.com/spf13/cobra"

	_ "k8s.io/client-go/plugin/pkg/client/auth" // kubectl: client auth plugins
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	_ "k8s.io/component-base/logs/json/register"          // for JSON log format registration
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // load all the prometheus client-go plugins
	_ "k8s.io/component-base/metrics/prometheus/version"  // for version metric registration
	kubectl "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

var commands = map[string]func() *cobra.Command{
	"kube-apiserver":          apiserver.NewAPIServerCommand,
	"kube-controller-manager": controllermanager.NewControllerManagerCommand,
	"kube-scheduler":          func() *cobra.Command { return scheduler.NewSchedulerCommand() },
	"kubectl":                 nil, // runKubectl: kubectl reads os.Args itself (plugins, verbosity)
}

func main() {
	name := filepath.Base(os.Args[0])
	args := os.Args[1:]
	newCommand, ok := commands[name]
	if !ok && len(args) > 0 {
		name, args = args[0], args[1:]
		newCommand, ok = commands[name]
	}
	if !ok {
		names := make([]string, 0, len(commands))
		for known := range commands {
			names = append(names, known)
		}
		sort.Strings(names)
		fmt.Fprintf(os.Stderr, "usage: run as one of %v (a symlink to this binary), "+
			"or pass one of them as the first argument\n", names)
		os.Exit(2)
	}
	if name == "kubectl" {
		runKubectl(args)
		return
	}
	command := newCommand()
	command.SetArgs(args)
	os.Exit(cli.Run(command))
}

// runKubectl does what k8s.io/kubernetes/cmd/kubectl/kubectl.go does, with os.Args set to
// what kubectl would have seen had it been started under its own name.
func runKubectl(args []string) {
	os.Args = append([]string{"kubectl"}, args...)
	logs.GlogSetter(kubectl.GetLogVerbosity(os.Args)) // nolint:errcheck
	command := kubectl.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		kubectlutil.CheckErr(err)
	}
}
