package experiment

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gorgonia-zoo/resnet/datasets/cifar10"
	"github.com/gorgonia-zoo/resnet/internal/atomicfile"
	"github.com/gorgonia-zoo/resnet/train"
	"github.com/pkg/errors"
)

// Files of a sweep directory.
const (
	SweepFile       = "sweep.json"   // the Sweep, written when it starts
	SummaryJSONFile = "summary.json" // []train.Result
	SummaryMDFile   = "summary.md"   // the same as a table
	Fig6File        = "fig6.png"     // He et al.'s Figure 6
	Fig7File        = "fig7.png"     // He et al.'s Figure 7, with Config.Analyze
)

// Files that Hooks adds to a run directory.
const (
	CurvesFile    = "curves.png"    // loss and error against iterations
	AnalysisFile  = "analysis.json" // Analysis, with Config.Analyze
	ResponsesFile = "responses.png" // layer response std, with Config.Analyze
)

// QuickIters is the length of the fig6-quick preset. At PyTorch's speed on
// a 2-core machine (ResNet-20 about 240 ms, ResNet-56 about 720 ms per step
// at batch 128) plain-20, plain-56, ResNet-20 and ResNet-56 at 1,500
// iterations each take about 48 minutes of training, plus 5 evaluations of
// the 10,000 test images each (about 9% more): under an hour. That is 3.8
// epochs: enough for the plain-56 versus plain-20 gap to open.
const QuickIters = 1500

// Sweep is a list of runs made one after another, each in its own
// directory (named after its model) under the sweep directory.
type Sweep struct {
	Preset string         `json:"preset"`
	Runs   []train.Config `json:"runs"`
}

// fig6Models are the nets of He et al.'s Figure 6: plain on the left,
// residual on the right.
var fig6Models = []string{"plain20", "plain32", "plain44", "plain56", "resnet20", "resnet32", "resnet44", "resnet56", "resnet110"}

// Presets returns the names of the sweep presets.
func Presets() []string { return []string{"fig6", "fig6-quick", "fig6-grid-quick"} }

// Preset returns the runs of a named sweep:
//
//   - "fig6": the paper's Figure 6 grid, plain and ResNet 20/32/44/56 and
//     ResNet-110 with the paper's recipe (64k iterations; warm-up for 110).
//   - "fig6-quick": plain-20, plain-56, ResNet-20 and ResNet-56 on the full
//     training set for QuickIters iterations, LR 0.1 divided by 10 at 50%
//     and 75% of the iterations, evaluated every 300 iterations.
//   - "fig6-grid-quick": every net of "fig6" (ResNet-110 with its warm-up)
//     at the schedule of "fig6-quick".
func Preset(name string) (*Sweep, error) {
	var s Sweep
	s.Preset = name
	quick := func(m string) train.Config {
		c := train.Paper(m)
		c.Iters, c.Milestones = QuickIters, train.ScaledMilestones(QuickIters)
		c.EvalEvery, c.LogEvery, c.CkptEvery = 300, 25, 300
		return c
	}
	switch name {
	case "fig6":
		for _, m := range fig6Models {
			s.Runs = append(s.Runs, train.Paper(m))
		}
	case "fig6-quick":
		for _, m := range []string{"plain20", "plain56", "resnet20", "resnet56"} {
			s.Runs = append(s.Runs, quick(m))
		}
	case "fig6-grid-quick":
		for _, m := range fig6Models {
			s.Runs = append(s.Runs, quick(m))
		}
	default:
		return nil, errors.Errorf("sweep preset %q: want one of %s", name, strings.Join(Presets(), ", "))
	}
	return &s, nil
}

// Keep reduces s to the runs of the named models, in s's order: a preset
// cut to the nets an experiment needs (fig6-quick's two ResNets for a
// zero-init-residual sweep). Every name must be one of s's models.
func (s *Sweep) Keep(models []string) error {
	want := make(map[string]bool, len(models))
	for _, m := range models {
		want[m] = true
	}
	var kept []train.Config
	for _, c := range s.Runs {
		if want[c.Model] {
			kept = append(kept, c)
			delete(want, c.Model)
		}
	}
	if len(want) > 0 {
		var have []string
		for _, c := range s.Runs {
			have = append(have, c.Model)
		}
		missing := slices.Sorted(maps.Keys(want))
		return errors.Errorf("models %s: %q is not in the %s sweep (%s)", strings.Join(models, ","), missing[0], s.Preset, strings.Join(have, ", "))
	}
	s.Runs = kept
	return nil
}

// Shard selects the runs of a sweep that one process makes, so that a
// cluster can spread a sweep over many machines: run i (0-based, in the
// sweep's order) belongs to shard i mod Count, Index counts from 0 as
// JOB_COMPLETION_INDEX and SLURM_ARRAY_TASK_ID do. The zero Shard is the
// whole sweep.
type Shard struct {
	Index, Count int
}

// ParseShard parses "I/N", shard I (0-based) of N.
func ParseShard(s string) (Shard, error) {
	var sh Shard
	i, n, ok := strings.Cut(s, "/")
	var err1, err2 error
	if ok {
		sh.Index, err1 = strconv.Atoi(i)
		sh.Count, err2 = strconv.Atoi(n)
	}
	if !ok || err1 != nil || err2 != nil || sh.Count < 1 || sh.Index < 0 || sh.Index >= sh.Count {
		return Shard{}, errors.Errorf("shard %q: want I/N with 0 <= I < N, e.g. 0/9", s)
	}
	return sh, nil
}

// String names the shard as I/N, or "all runs" for the zero Shard.
func (sh Shard) String() string {
	if sh.Count == 0 {
		return "all runs"
	}
	return fmt.Sprintf("shard %d/%d", sh.Index, sh.Count)
}

// Has reports whether run i of a sweep (0-based, in the sweep's order)
// belongs to the shard.
func (sh Shard) Has(i int) bool { return sh.Count == 0 || i%sh.Count == sh.Index }

// ErrUnfinished is returned (wrapped, naming the runs) by Gather while some
// runs of the sweep have no result yet.
var ErrUnfinished = errors.New("sweep not finished")

// RunSweep makes the runs of s that belong to shard (the zero Shard: all
// of them) one after another, each in its own directory under dir named
// after its model, and returns their results.
//
// dir's sweep.json records s. A new dir (or an empty one) gets it; a dir
// that has it continues the same sweep: s must be nil or equal to it.
// Shards started at once on one dir cooperate: finished runs are kept, a
// run with a checkpoint is resumed (so a preempted or retried job goes on
// where it stopped), and the others are started. Runs are deterministic, so
// the results do not depend on how the sweep was split or interrupted.
//
// When every run of the sweep has finished, RunSweep gathers them (see
// Gather); a shard that ends before the others leaves that to the last.
func RunSweep(ctx context.Context, s *Sweep, ds *cifar10.Dataset, dir string, shard Shard, out train.Output) ([]train.Result, error) {
	s, err := openSweep(s, dir)
	if err != nil {
		return nil, err
	}
	var results []train.Result
	for i, c := range s.Runs {
		if !shard.Has(i) {
			continue
		}
		rdir := filepath.Join(dir, c.Model)
		if r, err := readResult(rdir); err == nil {
			results = append(results, r)
			continue
		} else if !os.IsNotExist(errors.Cause(err)) {
			return nil, err
		}
		if out.W != nil {
			fmt.Fprintf(out.W, "sweep %s: run %d/%d, %s, in %s\n", s.Preset, i+1, len(s.Runs), c.Model, rdir)
		}
		r, err := makeRun(ctx, c, ds, rdir, out)
		// The run's graphs are garbage now: collect them before the next run
		// so the sweep's peak memory is its largest run's, not a sum.
		debug.FreeOSMemory()
		if err != nil {
			return nil, err
		}
		results = append(results, *r)
	}
	if _, err := Gather(dir); err != nil && !(shard.Count > 1 && errors.Is(err, ErrUnfinished)) {
		return nil, err
	}
	return results, nil
}

// openSweep returns the sweep recorded in dir, recording s there first
// when dir is new. Shards that start at once on a new dir all record the
// same s, and the atomic write makes that safe.
func openSweep(s *Sweep, dir string) (*Sweep, error) {
	recorded, err := readSweep(dir)
	if os.IsNotExist(errors.Cause(err)) && s != nil {
		if !emptyDir(dir) {
			// Another shard may have recorded the sweep since: read again.
			if recorded, err = readSweep(dir); os.IsNotExist(errors.Cause(err)) {
				return nil, errors.Errorf("%s already exists, is not empty and holds no %s; choose another directory", dir, SweepFile)
			}
		} else {
			return s, recordSweep(s, dir)
		}
	}
	switch {
	case os.IsNotExist(errors.Cause(err)):
		return nil, errors.Wrapf(err, "%s is not a sweep directory", dir)
	case err != nil:
		return nil, err
	case s != nil && !reflect.DeepEqual(s, recorded):
		return nil, errors.Errorf("sweep directory %s holds another sweep (%s, %d runs): continue it as it is or choose another directory", dir, recorded.Preset, len(recorded.Runs))
	}
	return recorded, nil
}

// emptyDir reports whether dir is missing or holds nothing but the
// temporary files of atomic writes in progress.
func emptyDir(dir string) bool {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !atomicfile.IsTemp(e.Name()) {
			return false
		}
	}
	return true
}

// recordSweep checks s and writes it to dir's sweep.json.
func recordSweep(s *Sweep, dir string) error {
	seen := map[string]bool{}
	for _, c := range s.Runs {
		if err := c.Validate(); err != nil {
			return errors.Wrap(err, c.Model)
		}
		if seen[c.Model] {
			return errors.Errorf("sweep %s runs %s twice: its runs are named after their models", s.Preset, c.Model)
		}
		seen[c.Model] = true
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return errors.Wrap(err, "sweep directory")
	}
	b, _ := json.MarshalIndent(s, "", "  ")
	return atomicfile.WriteFile(filepath.Join(dir, SweepFile), append(b, '\n'))
}

// readSweep reads dir's sweep.json.
func readSweep(dir string) (*Sweep, error) {
	path := filepath.Join(dir, SweepFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, errors.Wrap(err, "sweep")
	}
	var s Sweep
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, errors.Wrap(err, path)
	}
	return &s, nil
}

// readResult reads a finished run's result.json.
func readResult(rdir string) (train.Result, error) {
	var r train.Result
	path := filepath.Join(rdir, train.ResultFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return r, errors.Wrap(err, "result")
	}
	return r, errors.Wrap(json.Unmarshal(b, &r), path)
}

// makeRun resumes the run in rdir from its checkpoint, or starts it.
func makeRun(ctx context.Context, c train.Config, ds *cifar10.Dataset, rdir string, out train.Output) (*train.Result, error) {
	var tr *train.Trainer
	var err error
	if _, statErr := os.Stat(filepath.Join(rdir, train.ConfigFile)); statErr == nil {
		tr, err = train.Resume(rdir, ds, out, nil)
	} else {
		// A directory without config.json is a start that was killed
		// before it trained: nothing in it is worth keeping.
		if err := os.RemoveAll(rdir); err != nil {
			return nil, errors.Wrap(err, c.Model)
		}
		tr, err = train.New(c, ds, rdir, out)
	}
	if err != nil {
		return nil, errors.Wrap(err, c.Model)
	}
	defer tr.Close()
	tr.Hooks = Hooks()
	return tr.Run(ctx)
}

// Gather collects the results of every run of the sweep in dir and writes
// summary.json, summary.md, fig6.png and, when the runs have analysis.json,
// fig7.png. While some runs have no result it returns ErrUnfinished naming
// them, and writes nothing.
func Gather(dir string) ([]train.Result, error) {
	s, err := readSweep(dir)
	if err != nil {
		return nil, errors.Wrapf(err, "%s is not a sweep directory", dir)
	}
	var results []train.Result
	var missing []string
	for _, c := range s.Runs {
		r, err := readResult(filepath.Join(dir, c.Model))
		if os.IsNotExist(errors.Cause(err)) {
			missing = append(missing, c.Model)
			continue
		} else if err != nil {
			return nil, err
		}
		results = append(results, r)
	}
	if len(missing) > 0 {
		return nil, errors.Wrapf(ErrUnfinished, "%s: %d of %d runs have no result yet (%s)", dir, len(missing), len(s.Runs), strings.Join(missing, ", "))
	}
	return results, Summarize(dir, s, results)
}

// Summarize writes summary.json, summary.md, fig6.png and, when the runs
// have analysis.json, fig7.png.
func Summarize(dir string, s *Sweep, results []train.Result) error {
	b, _ := json.MarshalIndent(results, "", "  ")
	if err := atomicfile.WriteFile(filepath.Join(dir, SummaryJSONFile), append(b, '\n')); err != nil {
		return err
	}
	var md strings.Builder
	fmt.Fprintf(&md, "# Sweep %s\n\nErrors in %%; training error is the running mean over the last logged window (augmented data, BN in training mode); %s error with BN in evaluation mode.\n\n", s.Preset, evalName(results))
	md.WriteString("| model | params | iterations | final train err | best train err | final test err | best test err | wall time |\n")
	md.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	sorted := append([]train.Result(nil), results...)
	sort.SliceStable(sorted, func(i, j int) bool {
		pi, pj := isPlain(sorted[i].Model), isPlain(sorted[j].Model)
		if pi != pj {
			return pi
		}
		return depthOf(sorted[i].Model) < depthOf(sorted[j].Model)
	})
	for _, r := range sorted {
		fmt.Fprintf(&md, "| %s | %d | %d | %.2f | %.2f | %.2f | %.2f | %s |\n", r.Model, r.Params, r.Iters,
			100*r.FinalTrainErr, 100*r.BestTrainErr, 100*r.FinalTestErr, 100*r.BestTestErr, time.Duration(r.WallS*float64(time.Second)).Round(time.Second))
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, SummaryMDFile), []byte(md.String())); err != nil {
		return err
	}
	var curves []RunCurves
	var analyses []Analysis
	for _, r := range results {
		pts, err := train.ReadMetrics(filepath.Join(dir, r.Model, train.MetricsFile))
		if err != nil {
			return err
		}
		curves = append(curves, RunCurves{Model: r.Model, Points: pts})
		if b, err := os.ReadFile(filepath.Join(dir, r.Model, AnalysisFile)); err == nil {
			var a Analysis
			if err := json.Unmarshal(b, &a); err == nil {
				analyses = append(analyses, a)
			}
		}
	}
	if err := DrawFig6(filepath.Join(dir, Fig6File), curves); err != nil {
		return err
	}
	if len(analyses) > 0 {
		return DrawResponses(filepath.Join(dir, Fig7File), analyses)
	}
	return nil
}

func evalName(rs []train.Result) string {
	if len(rs) > 0 && rs[0].EvalSet == "val" {
		return "validation"
	}
	return "test"
}
