package train

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pkg/errors"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Files CompareSweeps writes into the first sweep's directory.
const (
	CompareFigFile = "comparison.png" // one panel per model, both implementations
	CompareMDFile  = "comparison.md"  // final numbers side by side
)

// CompareSweeps puts two sweeps of the same models side by side, this
// trainer's (ours) and another implementation's with the same files (the
// PyTorch twin, scripts/twin): a figure with one panel per model, error
// against iterations, ours solid and theirs dashed (thin training error,
// bold test error), and a table of final and best errors. It writes
// CompareFigFile and CompareMDFile into ours.
func CompareSweeps(ours, theirs, theirName string) error {
	var rs, ts []Result
	for _, c := range []struct {
		dir string
		dst *[]Result
	}{{ours, &rs}, {theirs, &ts}} {
		b, err := os.ReadFile(filepath.Join(c.dir, SummaryJSONFile))
		if err != nil {
			return errors.Wrapf(err, "compare: %s is not a finished sweep", c.dir)
		}
		if err := json.Unmarshal(b, c.dst); err != nil {
			return errors.Wrapf(err, "compare: %s", filepath.Join(c.dir, SummaryJSONFile))
		}
	}
	theirsBy := map[string]Result{}
	for _, r := range ts {
		theirsBy[r.Model] = r
	}
	var md strings.Builder
	fmt.Fprintf(&md, "# This trainer against %s\n\nErrors in %%, final (best) over the run.\n\n", theirName)
	fmt.Fprintf(&md, "| model | iterations | train err, ours | train err, %[1]s | test err, ours | test err, %[1]s |\n|---|---:|---:|---:|---:|---:|\n", theirName)
	var panels []*plot.Plot
	for _, r := range rs {
		t, ok := theirsBy[r.Model]
		if !ok {
			return errors.Errorf("compare: %s has no %s run", theirs, r.Model)
		}
		fmt.Fprintf(&md, "| %s | %d | %.2f (%.2f) | %.2f (%.2f) | %.2f (%.2f) | %.2f (%.2f) |\n", r.Model, r.Iters,
			100*r.FinalTrainErr, 100*r.BestTrainErr, 100*t.FinalTrainErr, 100*t.BestTrainErr,
			100*r.FinalTestErr, 100*r.BestTestErr, 100*t.FinalTestErr, 100*t.BestTestErr)
		p := plot.New()
		p.Title.Text = r.Model
		p.X.Label.Text, p.Y.Label.Text = "iterations", "error (%)"
		p.Add(plotter.NewGrid())
		p.Legend.Top = true
		p.Y.Min = 0
		for i, side := range []struct {
			dir, name string
			dashed    bool
		}{{ours, "ours", false}, {theirs, theirName, true}} {
			pts, err := ReadMetrics(filepath.Join(side.dir, r.Model, MetricsFile))
			if err != nil {
				return err
			}
			c := palette[(2*i+1)%len(palette)]
			if err := addLine(p, series(pts, trainErr, 100), c, vg.Points(0.8), side.dashed, ""); err != nil {
				return err
			}
			if err := addLine(p, series(pts, testErr, 100), c, vg.Points(2.2), side.dashed, side.name+" (test)"); err != nil {
				return err
			}
		}
		panels = append(panels, p)
	}
	if err := savePanels(filepath.Join(ours, CompareFigFile), panels, vg.Length(len(panels))*4*vg.Inch, 4*vg.Inch); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(ours, CompareMDFile), []byte(md.String()))
}
