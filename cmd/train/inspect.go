package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/gorgonia-zoo/resnet/models"
	"github.com/pkg/errors"
)

var summaryCmd = &command{
	name: "summary", short: "print a model's layers, parameter count and MACs",
	long: `Summary prints the layers of any zoo model with their output shapes, parameters
and multiply-accumulates per image, ending with the totals; -dot also writes
its forward graph in Graphviz DOT.`,
	example: `train summary -model resnet56
train summary -model resnet50 -dot resnet50.dot`,
	setup: func(fs *flag.FlagSet) func([]string) (action, error) {
		name := fs.String("model", "resnet20", "zoo model `name`: "+strings.Join(models.Names(), ", "))
		dot := fs.String("dot", "", "also write the model's forward graph in Graphviz DOT to `FILE`")
		return func([]string) (action, error) {
			if !slices.Contains(models.Names(), *name) {
				return nil, errors.Errorf("-model %s: want one of %s", *name, strings.Join(models.Names(), ", "))
			}
			return func(_ context.Context, e env) error {
				m, err := models.New(*name, models.Options{})
				if err != nil {
					return err
				}
				if *dot != "" {
					b, err := m.Dot()
					if err != nil {
						return err
					}
					if err := os.WriteFile(*dot, b, 0o644); err != nil {
						return errors.Wrap(err, "-dot")
					}
				}
				return m.Summary(e.stdout)
			}, nil
		}
	},
}

var versionCmd = &command{
	name: "version", short: "print the module, Go and VCS versions of this binary",
	long: `Version prints the module path and version, the Go version and platform, and the
VCS revision the binary was built from (recorded by go build and go install in a
git checkout; go run records none).`,
	example: "train version",
	setup: func(*flag.FlagSet) func([]string) (action, error) {
		return func([]string) (action, error) {
			return func(_ context.Context, e env) error {
				module, rev := "(unknown)", "(not recorded)"
				if bi, ok := debug.ReadBuildInfo(); ok {
					module = strings.TrimSpace(bi.Main.Path + " " + bi.Main.Version)
					rev = vcsRevision(bi.Settings)
				}
				fmt.Fprintf(e.stdout, "module   %s\ngo       %s %s/%s\nrevision %s\n", module, runtime.Version(), runtime.GOOS, runtime.GOARCH, rev)
				return nil
			}, nil
		}
	},
}

// vcsRevision formats the vcs.* build settings: "git 9dda2fb... 2026-11-27T08:15:00Z
// (modified)".
func vcsRevision(settings []debug.BuildSetting) string {
	s := map[string]string{}
	for _, b := range settings {
		s[b.Key] = b.Value
	}
	if s["vcs.revision"] == "" {
		return "(not recorded)"
	}
	r := strings.TrimSpace(s["vcs"] + " " + s["vcs.revision"] + " " + s["vcs.time"])
	if s["vcs.modified"] == "true" {
		r += " (modified)"
	}
	return r
}
