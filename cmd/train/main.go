// Command train trains the zoo's ResNets on CIFAR-10 and inspects them.
//
//	go run ./cmd/train -model resnet56 -summary
//	go run ./cmd/train -model resnet20 -dot resnet20.dot
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gorgonia-zoo/resnet/models"
	"github.com/pkg/errors"
)

// usageError is a bad flag or value: reported with the usage text.
type usageError struct{ error }

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "train:", err)
		if _, ok := err.(usageError); ok {
			fmt.Fprintln(os.Stderr, "run 'train -h' for the flags")
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "resnet20", "model name: "+strings.Join(models.Names(), ", "))
	summary := fs.Bool("summary", false, "print the model's layers, parameter count and MACs, then exit")
	dotFile := fs.String("dot", "", "write the model's forward graph in Graphviz DOT to `FILE`, then exit")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{errors.Errorf("unexpected arguments %q", fs.Args())}
	}
	m, err := models.New(*model, models.Options{})
	if err != nil {
		return usageError{errors.Wrap(err, "-model")}
	}
	if *dotFile != "" {
		b, err := m.Dot()
		if err != nil {
			return err
		}
		if err := os.WriteFile(*dotFile, b, 0o644); err != nil {
			return errors.Wrap(err, "-dot")
		}
	}
	if *summary {
		return m.Summary(stdout)
	}
	return nil
}
