// Command train trains the zoo's CIFAR-10 ResNets with the recipe of He et
// al. 2016, runs the paper's plain-versus-residual sweeps, and evaluates,
// applies and inspects the zoo's models.
//
// Usage:
//
//	train [run] [flags]                   train one model (the default command)
//	train resume [flags] DIR              continue a run or a sweep
//	train sweep [flags] PRESET            several runs, then the paper's Figure 6
//	train gather DIR                      summarize a sweep made by several jobs
//	train compare [flags] OURS THEIRS     two sides' sweeps side by side
//	train eval [-weights FILE] [flags]    test loss and error of weights
//	train predict [flags] IMAGE...        top-5 classes of images
//	train export -out FILE RUN_DIR        a finished run's weights, to ship or share
//	train summary [-model M] [-dot FILE]  layers, parameters and MACs
//	train data [-data PATH] [-download]   fetch (when missing) and check CIFAR-10
//	train version                         module, Go and VCS versions
//	train help [COMMAND]                  the help of a command
//
// For example:
//
//	go run ./cmd/train -model resnet20                  # the paper's recipe, into runs/resnet20-<time>
//	go run ./cmd/train -model resnet20 -iters 200 -out runs/short
//	go run ./cmd/train resume runs/short -iters 400     # continue (or extend) a run
//	go run ./cmd/train sweep fig6-quick                 # plain/ResNet 20 and 56, about an hour at PyTorch speed
//	train sweep fig6 -shard 3/9 -out /sweeps/fig6       # one of nine cluster jobs (deploy/)
//	go run ./cmd/train summary -model resnet56 -dot resnet56.dot
//
// Eval and predict use the weights shipped with the zoo (package
// pretrained) for -model when -weights is not given.
//
// Flags may come before or after the positional arguments; "--" ends
// them. Every hyper-parameter is a flag whose default is the paper's value
// (train help run). A run directory holds config.json, metrics.jsonl,
// checkpoint.safetensors, curves.png and, at the end, result.json and
// weights.safetensors; resume reads the data path and every setting from
// its config.json. SIGINT or SIGTERM finishes the current step, writes a
// checkpoint, prints the resume command and exits with status 130; a
// second signal kills the process at once. A usage error exits with status
// 2, any other error with 1.
//
// The mode flags of earlier versions still work as aliases: -sweep P,
// -resume DIR, -compare OURS,THEIRS (with -compare-names), -eval, -predict,
// -summary and -dot FILE select the command of the same name.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gorgonia-zoo/resnet/train"
	"github.com/pkg/errors"
	"golang.org/x/term"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitInterrupted = 130 // 128 + SIGINT, as shells report it
)

// usageError is a bad command line: reported with where to find the usage
// of cmd ("" for the command list).
type usageError struct {
	cmd string
	err error
}

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usage error of command cmd.
func usagef(cmd, format string, args ...any) error {
	return usageError{cmd, errors.Errorf(format, args...)}
}

// interrupted is a run or sweep stopped by a signal, with a checkpoint.
type interrupted struct {
	err error
	dir string
}

func (e interrupted) Error() string {
	return e.err.Error() + "\ncontinue with: train resume " + e.dir
}

func (e interrupted) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal kills the process
	}()
	terminal := term.IsTerminal(int(os.Stdout.Fd()))
	code := report(run(ctx, os.Args[1:], os.Stdout, os.Stderr, terminal), os.Stderr)
	stop()
	os.Exit(code)
}

// report prints err, if any, and returns the exit status it means.
func report(err error, stderr io.Writer) int {
	var u usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, train.ErrInterrupted) || errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "train:", err)
		return exitInterrupted
	case errors.As(err, &u):
		name := "train"
		if u.cmd != "" {
			name += " " + u.cmd
		}
		fmt.Fprintf(stderr, "%s: %v\nrun '%s' for usage\n", name, err, strings.Replace(name, "train", "train help", 1))
		return exitUsage
	}
	fmt.Fprintln(stderr, "train:", err)
	return exitFailed
}

// run runs the command line args (without the program name).
func run(ctx context.Context, args []string, stdout, stderr io.Writer, terminal bool) error {
	c, act, err := parse(args, stdout)
	if err != nil || act == nil {
		return err
	}
	return flagError(c.name, act(ctx, env{stdout: stdout, stderr: stderr, terminal: terminal}))
}
