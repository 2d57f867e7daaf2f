package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gorgonia-zoo/resnet/train"
	"github.com/pkg/errors"
)

// env is where a command's action writes.
type env struct {
	stdout, stderr io.Writer
	terminal       bool // stdout is a terminal: training redraws one progress line
}

// output is where a run reports its progress.
func (e env) output() train.Output { return train.Output{W: e.stdout, Terminal: e.terminal} }

// action is a command's work, once its command line has been checked.
type action func(ctx context.Context, e env) error

// command is one subcommand of train: its help, its arguments and its flags.
type command struct {
	name    string
	args    string // the positional arguments of the synopsis, e.g. "DIR"
	short   string // its line in the command list
	long    string // the paragraph of its help
	example string // command lines, one a line
	// minArgs and maxArgs bound the positional arguments; maxArgs < 0
	// means any number.
	minArgs, maxArgs int
	// setup registers the command's flags on fs and returns the check that
	// follows parsing: it judges the flags and positional arguments
	// (every error it returns is a usage error) and returns the action.
	setup func(fs *flag.FlagSet) func(args []string) (action, error)
}

// commands are train's commands, in the order of the command list; run
// is the default.
var commands []*command

func init() {
	commands = []*command{runCmd, resumeCmd, sweepCmd, gatherCmd, compareCmd, evalCmd, predictCmd, exportCmd, summaryCmd, dataCmd, versionCmd, helpCmd}
}

// lookup returns the command called name, or nil.
func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// parse finds the command of the command line args, parses its flags and
// arguments, and returns its action; a nil action means that parse printed
// the help asked for, to stdout.
func parse(args []string, stdout io.Writer) (*command, action, error) {
	if len(args) == 0 {
		return nil, nil, usagef("", "no command (train -model resnet20 trains one model)")
	}
	name, rest := args[0], args[1:]
	switch {
	case name == "-h" || name == "-help" || name == "--help":
		printCommands(stdout)
		return nil, nil, nil
	case strings.HasPrefix(name, "-"):
		var err error
		if name, rest, err = legacy(args); err != nil {
			return nil, nil, err
		}
	}
	c := lookup(name)
	if c == nil {
		return nil, nil, usagef("", "unknown command %q", name)
	}
	fs := newFlagSet(c)
	check := c.setup(fs)
	pos, err := parseArgs(fs, rest)
	if err == flag.ErrHelp {
		c.help(stdout, fs)
		return c, nil, nil
	}
	if err != nil {
		return c, nil, usageError{c.name, err}
	}
	if len(pos) < c.minArgs {
		return c, nil, usagef(c.name, "missing %s", strings.Join(strings.Fields(c.args)[len(pos):], " "))
	}
	if c.maxArgs >= 0 && len(pos) > c.maxArgs {
		return c, nil, usagef(c.name, "unexpected arguments %q", pos[c.maxArgs:])
	}
	act, err := check(pos)
	if err != nil {
		err = flagError(c.name, err)
		if !errors.As(err, new(usageError)) {
			err = usageError{c.name, err}
		}
		return c, nil, err
	}
	return c, act, nil
}

// newFlagSet returns an empty flag set for c that prints nothing: parse
// reports the errors, help the flags.
func newFlagSet(c *command) *flag.FlagSet {
	fs := flag.NewFlagSet("train "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseArgs parses the flags of fs wherever they are among args, as the
// go command does: before, between or after the positional arguments,
// which it returns. "--" ends the flags.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		n := len(args) - fs.NArg() // arguments taken as flags
		if n > 0 && args[n-1] == "--" && (n == 1 || !takesValue(fs, args[n-2])) {
			return append(pos, fs.Args()...), nil
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// takesValue reports whether arg is a flag of fs that takes the next
// argument as its value (so a "--" after it is that value).
func takesValue(fs *flag.FlagSet, arg string) bool {
	name := strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
	if !strings.HasPrefix(arg, "-") || strings.Contains(name, "=") {
		return false
	}
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}

// legacyModes are the mode flags of the single-mode command line that
// preceded the commands, by the command each selects, and whether the flag
// carries the command's positional argument.
var legacyModes = map[string]struct {
	cmd string
	arg bool
}{
	"sweep": {"sweep", true}, "resume": {"resume", true}, "compare": {"compare", true},
	"eval": {"eval", false}, "predict": {"predict", false}, "summary": {"summary", false}, "dot": {"summary", false},
}

// legacy rewrites a command line of flags into a command and its
// arguments: "-sweep P -iters 8" is "sweep P -iters 8", "-compare A,B
// -compare-names X,Y" is "compare A B -names X,Y", and a command line
// without a mode flag is "run".
func legacy(args []string) (string, []string, error) {
	cmd, mode := "run", ""
	var pos, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		m, ok := legacyModes[name]
		if name == "compare-names" {
			a = strings.Replace(a, "compare-names", "names", 1)
		}
		if !strings.HasPrefix(a, "-") || !ok {
			rest = append(rest, a)
			continue
		}
		if mode != "" && cmd != m.cmd {
			return "", nil, usagef("", "-%s and -%s: one command at a time", mode, name)
		}
		cmd, mode = m.cmd, name
		switch {
		case name == "dot":
			rest = append(rest, a) // summary's own flag
		case m.arg && !hasValue && i+1 == len(args):
			return "", nil, usagef(m.cmd, "flag needs an argument: -%s", name)
		case m.arg && !hasValue:
			i++
			value = args[i]
			fallthrough
		case m.arg:
			if name == "compare" {
				pos = append(pos, strings.Split(value, ",")...)
			} else {
				pos = append(pos, value)
			}
		case hasValue:
			if b, err := strconv.ParseBool(value); err != nil || !b {
				return "", nil, usagef(m.cmd, "%s: use the command: train %s", a, m.cmd)
			}
		}
	}
	return cmd, append(pos, rest...), nil
}

// help prints c's help: synopsis, paragraph, flags and examples.
func (c *command) help(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", c.synopsis(fs), c.long)
	if hasFlags(fs) {
		fmt.Fprintln(w, "\nFlags:")
		printFlags(w, fs)
	}
	fmt.Fprintln(w, "\nExamples:")
	for _, l := range strings.Split(strings.TrimSpace(c.example), "\n") {
		fmt.Fprintln(w, "  "+strings.TrimSpace(l))
	}
}

// synopsis is c's usage line.
func (c *command) synopsis(fs *flag.FlagSet) string {
	s := "train " + c.name
	if hasFlags(fs) {
		s += " [flags]"
	}
	if c.args != "" {
		s += " " + c.args
	}
	return s
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// printFlags lists the flags of fs as the flag package does, the
// command's own first (alphabetically), then the training flags in the
// order of configFlags; defaults show unless empty, 0 or false.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	rank := func(name string) int {
		return slices.IndexFunc(configFlags, func(r configFlag) bool { return r.name == name })
	}
	var all []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) { all = append(all, f) })
	sort.SliceStable(all, func(i, j int) bool { return rank(all[i].Name) < rank(all[j].Name) })
	for _, f := range all {
		name, usage := flag.UnquoteUsage(f)
		line := "  -" + f.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintf(w, "%s\n    \t%s", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
		if d := f.DefValue; d != "" && d != "0" && d != "false" {
			fmt.Fprintf(w, " (default %s)", d)
		}
		fmt.Fprintln(w)
	}
}

// printCommands is train's help: the command list.
func printCommands(w io.Writer) {
	fmt.Fprint(w, `Train trains the zoo's CIFAR-10 ResNets with the recipe of He et al. 2016,
runs the paper's plain-versus-residual sweeps, and evaluates, applies and
inspects the zoo's models.

Usage:

	train <command> [arguments]

The commands are:

`)
	for _, c := range commands {
		fmt.Fprintf(w, "\t%-8s  %s\n", c.name, c.short)
	}
	fmt.Fprint(w, `
Without a command, flags run 'train run': train -model resnet20.
Use "train help <command>" for more information about a command.
`)
}

var helpCmd = &command{
	name: "help", args: "[COMMAND]", maxArgs: 1,
	short:   "show the command list, or the help of one command",
	long:    "Help lists train's commands, or prints the help of COMMAND: its synopsis, what it does, its flags and examples.",
	example: "train help\ntrain help run",
	setup: func(fs *flag.FlagSet) func([]string) (action, error) {
		return func(args []string) (action, error) {
			if len(args) == 0 {
				return func(_ context.Context, e env) error { printCommands(e.stdout); return nil }, nil
			}
			c := lookup(args[0])
			if c == nil {
				return nil, errors.Errorf("unknown command %q", args[0])
			}
			return func(_ context.Context, e env) error {
				fs := newFlagSet(c)
				c.setup(fs)
				c.help(e.stdout, fs)
				return nil
			}, nil
		}
	},
}
