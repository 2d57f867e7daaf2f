package experiment

import (
	"bytes"
	"fmt"
	"image/color"
	"sort"

	"github.com/gorgonia-zoo/resnet/internal/atomicfile"
	"github.com/gorgonia-zoo/resnet/train"
	"github.com/pkg/errors"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// palette colours the curves of one figure.
var palette = []color.Color{
	color.RGBA{R: 0xe0, G: 0xa0, B: 0x00, A: 0xff}, // amber
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, // blue
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, // green
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, // red
	color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, // purple
	color.RGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff}, // brown
}

// series picks (iter, value) pairs of points with the value present.
func series(pts []train.Point, value func(train.Point) *float64, scale float64) plotter.XYs {
	var xy plotter.XYs
	for _, p := range pts {
		if v := value(p); v != nil {
			xy = append(xy, plotter.XY{X: float64(p.Iter), Y: *v * scale})
		}
	}
	return xy
}

func trainErr(p train.Point) *float64  { return p.TrainErr }
func testErr(p train.Point) *float64   { return p.TestErr }
func trainLoss(p train.Point) *float64 { return p.TrainLoss }
func testLoss(p train.Point) *float64  { return p.TestLoss }

// addLine adds a line of the given colour, width and dash to p.
func addLine(p *plot.Plot, xy plotter.XYs, c color.Color, width vg.Length, dashed bool, name string) error {
	if len(xy) == 0 {
		return nil
	}
	l, err := plotter.NewLine(xy)
	if err != nil {
		return errors.Wrap(err, "plot")
	}
	l.Color, l.Width = c, width
	if dashed {
		l.Dashes = []vg.Length{vg.Points(3), vg.Points(2)}
	}
	p.Add(l)
	if name != "" {
		p.Legend.Add(name, l)
	}
	// A single point draws no line: mark it.
	if len(xy) == 1 {
		s, err := plotter.NewScatter(xy)
		if err == nil {
			s.Color = c
			p.Add(s)
		}
	}
	return nil
}

// savePanels draws plots side by side into a PNG file, atomically.
func savePanels(path string, plots []*plot.Plot, w, h vg.Length) error {
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(plots), PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 2,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align([][]*plot.Plot{plots}, tiles, dc)
	for i, p := range plots {
		p.Draw(canvases[0][i])
	}
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return errors.Wrap(err, "plot "+path)
	}
	return atomicfile.WriteFile(path, buf.Bytes())
}

// newPanel is an empty plot with a grid, the legend on top and y from 0.
func newPanel(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Y.Min = 0
	return p
}

// DrawCurves draws a run's loss (left) and error (right) against
// iterations: thin dashed training curves, bold evaluation curves.
func DrawCurves(path, title, evalName string, pts []train.Point) error {
	loss := newPanel(title+": loss", "iterations", "cross-entropy")
	errp := newPanel(title+": error", "iterations", "error (%)")
	steps := []struct {
		p      *plot.Plot
		v      func(train.Point) *float64
		scale  float64
		c      color.Color
		dashed bool
		name   string
	}{
		{loss, trainLoss, 1, palette[1], true, "train"},
		{loss, testLoss, 1, palette[3], false, evalName},
		{errp, trainErr, 100, palette[1], true, "train"},
		{errp, testErr, 100, palette[3], false, evalName},
	}
	for _, s := range steps {
		w := vg.Points(2)
		if s.dashed {
			w = vg.Points(1)
		}
		if err := addLine(s.p, series(pts, s.v, s.scale), s.c, w, s.dashed, s.name); err != nil {
			return err
		}
	}
	return savePanels(path, []*plot.Plot{loss, errp}, 10*vg.Inch, 4*vg.Inch)
}

// RunCurves is one run's metrics for a comparison figure.
type RunCurves struct {
	Model  string
	Points []train.Point
}

// DrawFig6 draws He et al.'s Figure 6: error (%) against iterations, thin
// dashed training error and bold test error, plain nets in the left panel
// and ResNets in the right one.
func DrawFig6(path string, runs []RunCurves) error {
	plain, res := newPanel("plain", "iterations", "error (%)"), newPanel("ResNet", "iterations", "error (%)")
	sorted := append([]RunCurves(nil), runs...)
	sort.SliceStable(sorted, func(i, j int) bool { return depthOf(sorted[i].Model) < depthOf(sorted[j].Model) })
	var np, nr int
	for _, r := range sorted {
		p, idx := res, &nr
		if isPlain(r.Model) {
			p, idx = plain, &np
		}
		c := palette[*idx%len(palette)]
		*idx++
		name := fmt.Sprintf("%s-%d", map[bool]string{true: "plain", false: "ResNet"}[isPlain(r.Model)], depthOf(r.Model))
		if err := addLine(p, series(r.Points, trainErr, 100), c, vg.Points(0.8), true, ""); err != nil {
			return err
		}
		if err := addLine(p, series(r.Points, testErr, 100), c, vg.Points(2.2), false, name); err != nil {
			return err
		}
	}
	return savePanels(path, []*plot.Plot{plain, res}, 11*vg.Inch, 4.5*vg.Inch)
}

// DrawResponses draws He et al.'s Figure 7: the standard deviation of each
// 3x3 layer's response against the layer index (top: in network order,
// here left; bottom: sorted by magnitude, here right), for several nets.
func DrawResponses(path string, as []Analysis) error {
	byIdx := newPanel("layer responses (network order)", "layer index", "std")
	sorted := newPanel("layer responses (sorted by magnitude)", "layer index", "std")
	for i, a := range as {
		c := palette[i%len(palette)]
		var xy, xs plotter.XYs
		stds := make([]float64, len(a.Layers))
		for j, l := range a.Layers {
			xy = append(xy, plotter.XY{X: float64(j + 1), Y: l.Std})
			stds[j] = l.Std
		}
		sort.Sort(sort.Reverse(sort.Float64Slice(stds)))
		for j, s := range stds {
			xs = append(xs, plotter.XY{X: float64(j + 1), Y: s})
		}
		dashed := isPlain(a.Model)
		if err := addLine(byIdx, xy, c, vg.Points(1.5), dashed, a.Model); err != nil {
			return err
		}
		if err := addLine(sorted, xs, c, vg.Points(1.5), dashed, a.Model); err != nil {
			return err
		}
	}
	return savePanels(path, []*plot.Plot{byIdx, sorted}, 11*vg.Inch, 4.5*vg.Inch)
}

func isPlain(model string) bool { return len(model) >= 5 && model[:5] == "plain" }

func depthOf(model string) int {
	d := 0
	for _, r := range model {
		if r >= '0' && r <= '9' {
			d = 10*d + int(r-'0')
		}
	}
	return d
}
