package experiment

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
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

// Presets returns the names of the sweep presets.
func Presets() []string { return []string{"fig6", "fig6-quick"} }

// Preset returns the runs of a named sweep:
//
//   - "fig6": the paper's Figure 6 grid, plain and ResNet 20/32/44/56 and
//     ResNet-110 with the paper's recipe (64k iterations; warm-up for 110).
//   - "fig6-quick": plain-20, plain-56, ResNet-20 and ResNet-56 on the full
//     training set for QuickIters iterations, LR 0.1 divided by 10 at 50%
//     and 75% of the iterations, evaluated every 300 iterations.
func Preset(name string) (*Sweep, error) {
	var s Sweep
	s.Preset = name
	switch name {
	case "fig6":
		for _, m := range []string{"plain20", "plain32", "plain44", "plain56", "resnet20", "resnet32", "resnet44", "resnet56", "resnet110"} {
			s.Runs = append(s.Runs, train.Paper(m))
		}
	case "fig6-quick":
		for _, m := range []string{"plain20", "plain56", "resnet20", "resnet56"} {
			c := train.Paper(m)
			c.Iters, c.Milestones = QuickIters, train.ScaledMilestones(QuickIters)
			c.EvalEvery, c.LogEvery, c.CkptEvery = 300, 25, 300
			s.Runs = append(s.Runs, c)
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

// RunSweep makes the sweep's runs in dir one after another. A new sweep
// needs a new (or empty) dir. With resume, dir's sweep.json is used: finished
// runs are kept, an interrupted one is resumed from its checkpoint and the
// rest are started. At the end it writes summary.json, summary.md and
// fig6.png (and fig7.png for runs with Analyze).
func RunSweep(ctx context.Context, s *Sweep, ds *cifar10.Dataset, dir string, resume bool, out train.Output) ([]train.Result, error) {
	path := filepath.Join(dir, SweepFile)
	if resume {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, errors.Wrapf(err, "%s is not a sweep directory", dir)
		}
		s = &Sweep{}
		if err := json.Unmarshal(b, s); err != nil {
			return nil, errors.Wrap(err, path)
		}
	} else {
		if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
			return nil, errors.Errorf("sweep directory %s already exists and is not empty; resume it or choose another directory", dir)
		}
		for _, c := range s.Runs {
			if err := c.Validate(); err != nil {
				return nil, errors.Wrap(err, c.Model)
			}
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, errors.Wrap(err, "sweep directory")
		}
		b, _ := json.MarshalIndent(s, "", "  ")
		if err := atomicfile.WriteFile(path, append(b, '\n')); err != nil {
			return nil, err
		}
	}
	var results []train.Result
	for i, c := range s.Runs {
		rdir := filepath.Join(dir, c.Model)
		if b, err := os.ReadFile(filepath.Join(rdir, train.ResultFile)); err == nil {
			var r train.Result
			if err := json.Unmarshal(b, &r); err != nil {
				return nil, errors.Wrap(err, rdir)
			}
			results = append(results, r)
			continue
		}
		if out.W != nil {
			fmt.Fprintf(out.W, "sweep %s: run %d/%d, %s, in %s\n", s.Preset, i+1, len(s.Runs), c.Model, rdir)
		}
		var tr *train.Trainer
		var err error
		if exists(filepath.Join(rdir, train.ConfigFile)) {
			tr, err = train.Resume(rdir, ds, out, nil)
		} else {
			tr, err = train.New(c, ds, rdir, out)
		}
		if err != nil {
			return nil, errors.Wrap(err, c.Model)
		}
		tr.Hooks = Hooks()
		r, err := tr.Run(ctx)
		tr.Close()
		// The run's graphs are garbage now: collect them before the next run
		// so the sweep's peak memory is its largest run's, not a sum.
		debug.FreeOSMemory()
		if err != nil {
			return nil, err
		}
		results = append(results, *r)
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

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
