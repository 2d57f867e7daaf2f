package experiment

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gorgonia-zoo/resnet/internal/atomicfile"
	"github.com/gorgonia-zoo/resnet/train"
	"github.com/pkg/errors"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Files CompareSweeps writes into its output directory.
const (
	CompareFigFile  = "comparison.png"  // one panel per model, both implementations
	CompareMDFile   = "comparison.md"   // final errors and early training side by side, mean and spread over seeds
	CompareJSONFile = "comparison.json" // the same numbers, []ModelComparison
)

// Spread summarizes one final error over seeds: the mean, the sample
// standard deviation (0 for one seed) and the range.
type Spread struct {
	Seeds  int       `json:"seeds"`
	Mean   float64   `json:"mean"`
	SD     float64   `json:"sd"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Values []float64 `json:"values"` // one per seed, in the order of the sweeps given
}

// NewSpread summarizes values; with none it is the zero Spread.
func NewSpread(values []float64) Spread {
	if len(values) == 0 {
		return Spread{}
	}
	s := Spread{Seeds: len(values), Values: values, Min: math.Inf(1), Max: math.Inf(-1)}
	for _, v := range values {
		s.Mean += v / float64(len(values))
		s.Min, s.Max = math.Min(s.Min, v), math.Max(s.Max, v)
	}
	if len(values) > 1 {
		for _, v := range values {
			s.SD += (v - s.Mean) * (v - s.Mean)
		}
		s.SD = math.Sqrt(s.SD / float64(len(values)-1))
	}
	return s
}

// Range is Max-Min, the seed-to-seed spread (0 for one seed).
func (s Spread) Range() float64 { return s.Max - s.Min }

// ModelComparison is one model's final errors on both sides: Ours are the
// first side's, Theirs the second's, named by Sides.
type ModelComparison struct {
	Model       string    `json:"model"`
	Iters       int       `json:"iters"`
	Sides       [2]string `json:"sides"` // e.g. "ours", "PyTorch"
	OursTrain   Spread    `json:"ours_train_err"`
	OursTest    Spread    `json:"ours_test_err"`
	TheirsTrain Spread    `json:"theirs_train_err"`
	TheirsTest  Spread    `json:"theirs_test_err"`
	OursEarly   Early     `json:"ours_early"`
	TheirsEarly Early     `json:"theirs_early"`
}

// Early summarizes one side's first steps of one model over seeds, where
// initialization shows: how high the loss starts, how long training error
// takes to leave chance and where the first evaluation finds the test error.
type Early struct {
	FirstLoss     Spread `json:"first_loss"`      // training loss over the first logged window
	FirstEvalIter int    `json:"first_eval_iter"` // the iteration of the first evaluation
	FirstEvalErr  Spread `json:"first_eval_err"`  // test error at that evaluation
	ItersBelow    Spread `json:"iters_below"`     // the first logged iteration with training error below train.ChanceErr, over the seeds that got there
	NeverBelow    int    `json:"never_below"`     // seeds whose logged training error never fell below train.ChanceErr
}

// Agrees reports whether the two implementations' mean final errors (train
// and test) differ by no more than the seed spread of either: the larger of
// the two ranges. With one seed a side there is no spread to agree within.
func (c ModelComparison) Agrees() bool {
	agree := func(a, b Spread) bool {
		return math.Abs(a.Mean-b.Mean) <= math.Max(a.Range(), b.Range())
	}
	return agree(c.OursTrain, c.TheirsTrain) && agree(c.OursTest, c.TheirsTest)
}

// sweepSeeds is one implementation's runs of a sweep, one finished sweep
// directory per seed.
type sweepSeeds struct {
	dirs    []string
	results [][]train.Result // [seed][model]
}

func readSweeps(dirs []string) (*sweepSeeds, error) {
	s := &sweepSeeds{dirs: dirs}
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, SummaryJSONFile))
		if err != nil {
			return nil, errors.Wrapf(err, "compare: %s is not a finished sweep", d)
		}
		var rs []train.Result
		if err := json.Unmarshal(b, &rs); err != nil {
			return nil, errors.Wrapf(err, "compare: %s", filepath.Join(d, SummaryJSONFile))
		}
		s.results = append(s.results, rs)
	}
	return s, nil
}

// model gathers one model's results over the seeds; every seed must have
// run it for the same number of iterations.
func (s *sweepSeeds) model(name string, iters int) (train, test Spread, err error) {
	var tr, te []float64
	for i, rs := range s.results {
		found := false
		for _, r := range rs {
			if r.Model != name {
				continue
			}
			if r.Iters != iters {
				return train, test, errors.Errorf("compare: %s ran %s for %d iterations, want %d as in the others", s.dirs[i], name, r.Iters, iters)
			}
			tr, te, found = append(tr, r.FinalTrainErr), append(te, r.FinalTestErr), true
		}
		if !found {
			return train, test, errors.Errorf("compare: %s has no %s run", s.dirs[i], name)
		}
	}
	return NewSpread(tr), NewSpread(te), nil
}

// metrics reads one model's metrics.jsonl from every seed's sweep.
func (s *sweepSeeds) metrics(name string) ([][]train.Point, error) {
	var runs [][]train.Point
	for _, d := range s.dirs {
		pts, err := train.ReadMetrics(filepath.Join(d, name, train.MetricsFile))
		if err != nil {
			return nil, err
		}
		runs = append(runs, pts)
	}
	return runs, nil
}

// early summarizes the first steps of one model's runs, one per seed (as
// read by metrics); every run must log a training loss and evaluate at the
// same first iteration.
func (s *sweepSeeds) early(model string, runs [][]train.Point) (Early, error) {
	var e Early
	var loss, evalErr, below []float64
	for i, pts := range runs {
		file := filepath.Join(s.dirs[i], model, train.MetricsFile)
		firstLoss, firstEval, belowAt := -1.0, -1, -1
		for _, p := range pts {
			if firstLoss < 0 && p.TrainLoss != nil {
				firstLoss = *p.TrainLoss
			}
			if firstEval < 0 && p.TestErr != nil {
				firstEval = p.Iter
				evalErr = append(evalErr, *p.TestErr)
			}
			if belowAt < 0 && p.TrainErr != nil && *p.TrainErr < train.ChanceErr {
				belowAt = p.Iter
			}
		}
		switch {
		case firstLoss < 0 || firstEval < 0:
			return e, errors.Errorf("compare: %s logs no training loss or no evaluation", file)
		case i > 0 && firstEval != e.FirstEvalIter:
			return e, errors.Errorf("compare: %s first evaluates at iteration %d, want %d as in the others", file, firstEval, e.FirstEvalIter)
		}
		e.FirstEvalIter = firstEval
		loss = append(loss, firstLoss)
		if belowAt < 0 {
			e.NeverBelow++
		} else {
			below = append(below, float64(belowAt))
		}
	}
	e.FirstLoss, e.FirstEvalErr, e.ItersBelow = NewSpread(loss), NewSpread(evalErr), NewSpread(below)
	return e, nil
}

// meanCurve averages one value over the runs (in %), at the iterations
// every run logged it.
func meanCurve(runs [][]train.Point, value func(train.Point) *float64) plotter.XYs {
	sum, count := map[int]float64{}, map[int]int{}
	for _, pts := range runs {
		for _, p := range pts {
			if v := value(p); v != nil {
				sum[p.Iter] += *v
				count[p.Iter]++
			}
		}
	}
	var mean plotter.XYs
	for it, n := range count {
		if n == len(runs) {
			mean = append(mean, plotter.XY{X: float64(it), Y: 100 * sum[it] / float64(n)})
		}
	}
	sort.Slice(mean, func(i, j int) bool { return mean[i].X < mean[j].X })
	return mean
}

// CompareSweeps puts two sides' runs of the same models side by side, each
// side given as one finished sweep directory per seed and named by names:
// usually this trainer's ("ours") against another implementation's with the
// same files (the PyTorch twin, scripts/twin), or two variants of ours
// (zero-init-residual against the default). It writes into out a figure with
// one panel per model of the first side (error against iterations averaged
// over seeds, the first side solid and the second dashed, thin training
// error, bold test error, each seed's test error faint) and a table and JSON
// of the final errors: mean, standard deviation and range over seeds, and
// whether the sides agree within that spread; and of the early training
// (Early), where the sides' initializations differ. It returns the comparisons in
// the order of the first side's first sweep.
func CompareSweeps(out string, ours, theirs []string, names [2]string) ([]ModelComparison, error) {
	if len(ours) == 0 || len(theirs) == 0 {
		return nil, errors.New("compare: want at least one sweep of each side")
	}
	o, err := readSweeps(ours)
	if err != nil {
		return nil, err
	}
	t, err := readSweeps(theirs)
	if err != nil {
		return nil, err
	}
	var cs []ModelComparison
	var panels []*plot.Plot
	for _, r := range o.results[0] {
		c := ModelComparison{Model: r.Model, Iters: r.Iters, Sides: names}
		if c.OursTrain, c.OursTest, err = o.model(r.Model, r.Iters); err != nil {
			return nil, err
		}
		if c.TheirsTrain, c.TheirsTest, err = t.model(r.Model, r.Iters); err != nil {
			return nil, err
		}
		oRuns, err := o.metrics(r.Model)
		if err != nil {
			return nil, err
		}
		tRuns, err := t.metrics(r.Model)
		if err != nil {
			return nil, err
		}
		if c.OursEarly, err = o.early(r.Model, oRuns); err != nil {
			return nil, err
		}
		if c.TheirsEarly, err = t.early(r.Model, tRuns); err != nil {
			return nil, err
		}
		cs = append(cs, c)
		p, err := comparePanel(r.Model, [][][]train.Point{oRuns, tRuns}, names[:])
		if err != nil {
			return nil, err
		}
		panels = append(panels, p)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, errors.Wrap(err, "compare")
	}
	if err := savePanels(filepath.Join(out, CompareFigFile), panels, vg.Length(len(panels))*4*vg.Inch, 4*vg.Inch); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(cs, "", "  ")
	if err != nil {
		return nil, errors.Wrap(err, "compare")
	}
	if err := atomicfile.WriteFile(filepath.Join(out, CompareJSONFile), append(b, '\n')); err != nil {
		return nil, err
	}
	md := compareMarkdown(out, cs, o, t, names)
	return cs, atomicfile.WriteFile(filepath.Join(out, CompareMDFile), []byte(md))
}

// comparePanel draws one model's curves for each side, given as its
// metrics over seeds.
func comparePanel(model string, sides [][][]train.Point, names []string) (*plot.Plot, error) {
	p := newPanel(model, "iterations", "error (%)")
	for i, runs := range sides {
		c := palette[(2*i+1)%len(palette)]
		dashed := i > 0
		if len(runs) > 1 {
			for _, pts := range runs {
				if err := addLine(p, series(pts, testErr, 100), c, vg.Points(0.4), dashed, ""); err != nil {
					return nil, err
				}
			}
		}
		trainMean, testMean := meanCurve(runs, trainErr), meanCurve(runs, testErr)
		if err := addLine(p, trainMean, c, vg.Points(0.8), dashed, ""); err != nil {
			return nil, err
		}
		name := names[i] + " (test)"
		if len(runs) > 1 {
			name = fmt.Sprintf("%s (test, mean of %d seeds)", names[i], len(runs))
		}
		if err := addLine(p, testMean, c, vg.Points(2.2), dashed, name); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// spreadText writes s's values times scale in format verb: the mean and
// range over seeds, or the one value.
func spreadText(s Spread, scale float64, verb string) string {
	if s.Seeds == 1 {
		return fmt.Sprintf(verb, scale*s.Mean)
	}
	return fmt.Sprintf(verb+" ["+verb+", "+verb+"]", scale*s.Mean, scale*s.Min, scale*s.Max)
}

func compareMarkdown(out string, cs []ModelComparison, o, t *sweepSeeds, names [2]string) string {
	pct := func(s Spread) string {
		if s.Seeds == 1 {
			return fmt.Sprintf("%.2f", 100*s.Mean)
		}
		return fmt.Sprintf("%.2f ± %.2f [%.2f, %.2f]", 100*s.Mean, 100*s.SD, 100*s.Min, 100*s.Max)
	}
	var md strings.Builder
	fmt.Fprintf(&md, "# %s against %s\n\n", names[0], names[1])
	fmt.Fprintf(&md, "Final errors in %%, over %d seed(s) of %s and %d of %s: mean ± sample standard deviation [min, max]. ", len(o.dirs), names[0], len(t.dirs), names[1])
	md.WriteString("\"Agree\" means the means differ by no more than the larger seed range, for both training and test error.\n\n")
	fmt.Fprintf(&md, "| model | iterations | train err, %[1]s | train err, %[2]s | test err, %[1]s | test err, %[2]s | agree |\n|---|---:|---:|---:|---:|---:|---|\n", names[0], names[1])
	for _, c := range cs {
		agree := "n/a (one seed)"
		if c.OursTrain.Seeds > 1 || c.TheirsTrain.Seeds > 1 {
			agree = map[bool]string{true: "yes", false: "no"}[c.Agrees()]
		}
		fmt.Fprintf(&md, "| %s | %d | %s | %s | %s | %s | %s |\n", c.Model, c.Iters,
			pct(c.OursTrain), pct(c.TheirsTrain), pct(c.OursTest), pct(c.TheirsTest), agree)
	}
	fmt.Fprintf(&md, "\nEarly training, where initialization shows: mean [min, max] over seeds of the training loss over the first logged window, the first logged iteration with training error below %.0f%% (chance is 90%%) and the test error (%%) at the first evaluation.\n\n", 100*train.ChanceErr)
	md.WriteString("| model | side | first loss | iterations to leave chance | test err at first evaluation |\n|---|---|---:|---:|---:|\n")
	for _, c := range cs {
		for i, e := range []Early{c.OursEarly, c.TheirsEarly} {
			below := spreadText(e.ItersBelow, 1, "%.0f")
			switch {
			case e.ItersBelow.Seeds == 0:
				below = "never"
			case e.NeverBelow > 0:
				below += fmt.Sprintf(" (never in %d seed(s))", e.NeverBelow)
			}
			fmt.Fprintf(&md, "| %s | %s | %s | %s | %s at %d |\n", c.Model, names[i], spreadText(e.FirstLoss, 1, "%.2f"),
				below, spreadText(e.FirstEvalErr, 100, "%.2f"), e.FirstEvalIter)
		}
	}
	md.WriteString("\nEvery seed (final train / test error, %):\n\n| model | side | sweep | train err | test err |\n|---|---|---|---:|---:|\n")
	for _, c := range cs {
		for _, side := range []struct {
			name        string
			s           *sweepSeeds
			train, test Spread
		}{{names[0], o, c.OursTrain, c.OursTest}, {names[1], t, c.TheirsTrain, c.TheirsTest}} {
			for i, d := range side.s.dirs {
				if rel, err := filepath.Rel(out, d); err == nil {
					d = rel
				}
				fmt.Fprintf(&md, "| %s | %s | %s | %.2f | %.2f |\n", c.Model, side.name, d, 100*side.train.Values[i], 100*side.test.Values[i])
			}
		}
	}
	return md.String()
}
