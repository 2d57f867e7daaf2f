package experiment

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"

	"github.com/gorgonia-zoo/resnet/datasets/cifar10"
	"github.com/gorgonia-zoo/resnet/internal/atomicfile"
	"github.com/gorgonia-zoo/resnet/layers"
	"github.com/gorgonia-zoo/resnet/models"
	"github.com/gorgonia-zoo/resnet/train"
	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
)

// LayerStd is the standard deviation of one 3x3 layer's response.
type LayerStd struct {
	Name string  `json:"name"` // the batch norm after the 3x3 convolution, e.g. "layer1.0.bn2"
	Std  float64 `json:"std"`
}

// Analysis is the content of analysis.json: He et al.'s Figure 7 data for
// one trained net.
type Analysis struct {
	Model   string     `json:"model"`
	EvalSet string     `json:"eval_set"`
	Images  int        `json:"images"`
	Layers  []LayerStd `json:"layers"`
}

// analyzeBatch is the analysis graph's batch size: small, because the graph
// keeps every measured convolution's output until the batch is summed.
const analyzeBatch = 50

// bnTap is one batch norm whose response is measured: its input (the 3x3
// convolution's output) and its parameters.
type bnTap struct {
	name        string
	val         G.Value
	gamma, beta []float32
	mean, vari  []float32
	sum, sumSq  float64
	count       float64
}

// Analyze computes the standard deviation of every 3x3 layer's response on
// the evaluation set: the output of the batch norm after each 3x3
// convolution, before the addition and the ReLU, with batch norm in
// evaluation mode (He et al. 2016, Figure 7). The zoo's batch-norm op fuses
// the ReLU (and in a residual block the addition) into these layers, so the
// response is recomputed from the convolution's output (the op's input,
// read from the graph) and the batch norm's running statistics and affine
// parameters, which is exactly what the op computes before them in
// evaluation mode. The std is taken over
// all elements (images, channels, positions) of the layer's output.
func Analyze(m *models.Model, set *cifar10.Set, setName string, stats cifar10.Stats, workers int) (*Analysis, error) {
	g := G.NewGraph()
	in := m.InputShape()
	xn, x := layers.Input(g, "input", analyzeBatch, in[0], in[1], in[2])
	if _, err := m.Build(g, xn); err != nil {
		return nil, err
	}
	var taps []*bnTap
	var convs G.Nodes
	state := m.State()
	for _, n := range g.AllNodes() {
		if n.Op() == nil || !strings.HasPrefix(n.Op().String(), "BatchNorm") {
			continue
		}
		var conv *G.Node
		prefix := ""
		children := g.From(n.ID()) // in the op's input order: x first, a fused residual last
		for children.Next() {
			c := children.Node().(*G.Node)
			if c.Shape().Dims() == 4 && conv == nil {
				conv = c
			} else if strings.HasSuffix(c.Name(), ".weight") {
				prefix = strings.TrimSuffix(c.Name(), ".weight")
			}
		}
		if conv == nil || prefix == "" {
			return nil, errors.Errorf("analyze: cannot read batch norm %v", n)
		}
		if strings.Contains(prefix, "downsample") {
			continue // after a 1x1 projection, not a 3x3 layer
		}
		tap := &bnTap{name: prefix}
		for _, p := range []struct {
			dst  *[]float32
			name string
		}{{&tap.gamma, ".weight"}, {&tap.beta, ".bias"}, {&tap.mean, ".running_mean"}, {&tap.vari, ".running_var"}} {
			e, ok := state.Get(prefix + p.name)
			if !ok {
				return nil, errors.Errorf("analyze: no %s%s", prefix, p.name)
			}
			*p.dst = e.Value.Float32s()
		}
		G.Read(conv, &tap.val)
		taps = append(taps, tap)
		convs = append(convs, conv)
	}
	if _, err := layers.PlanMemory(g, convs...); err != nil {
		return nil, err
	}
	vm := layers.NewMachine(g)
	defer layers.CloseMachine(vm)
	if m.Training() {
		m.SetTraining(false)
		defer m.SetTraining(true)
	}
	it, err := cifar10.NewEvalIterator(set, stats, cifar10.EvalOptions{BatchSize: analyzeBatch, Workers: workers})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		copy(x, b.Images[:cap(b.Images)])
		n := b.Size
		b.Release()
		err := vm.RunAll()
		vm.Reset()
		if err != nil {
			return nil, errors.Wrap(err, "analyze")
		}
		for _, tap := range taps {
			v, ok := tap.val.Data().([]float32)
			if !ok {
				return nil, errors.Errorf("analyze: %s's input holds %T, want []float32", tap.name, tap.val.Data())
			}
			c := len(tap.gamma)
			hw := len(v) / analyzeBatch / c
			for ch := 0; ch < c; ch++ {
				scale := float64(tap.gamma[ch]) / math.Sqrt(float64(tap.vari[ch])+layers.BNEpsilon)
				shift := float64(tap.beta[ch]) - float64(tap.mean[ch])*scale
				for img := 0; img < n; img++ {
					for _, xv := range v[(img*c+ch)*hw : (img*c+ch+1)*hw] {
						y := float64(xv)*scale + shift
						tap.sum += y
						tap.sumSq += y * y
					}
				}
			}
			tap.count += float64(n * c * hw)
		}
	}
	a := &Analysis{Model: m.Name(), EvalSet: setName, Images: set.Len()}
	for _, tap := range taps {
		mean := tap.sum / tap.count
		a.Layers = append(a.Layers, LayerStd{Name: tap.name, Std: math.Sqrt(math.Max(tap.sumSq/tap.count-mean*mean, 0))})
	}
	return a, nil
}

// Hooks returns the trainer hooks that keep a run directory's figures:
// curves.png after every evaluation and checkpoint and, for a run with
// Config.Analyze, the Figure 7 analysis at the end (analysis.json and
// responses.png).
func Hooks() train.Hooks {
	return train.Hooks{
		Saved: func(t *train.Trainer) error {
			_, evalName, _ := t.EvalSet()
			return DrawCurves(filepath.Join(t.Dir(), CurvesFile), t.Config().Model, evalName, t.Points())
		},
		Finished: func(t *train.Trainer) error {
			if !t.Config().Analyze {
				return nil
			}
			set, name, stats := t.EvalSet()
			a, err := Analyze(t.Model(), set, name, stats, t.Config().Workers)
			if err != nil {
				return err
			}
			b, _ := json.MarshalIndent(a, "", "  ")
			if err := atomicfile.WriteFile(filepath.Join(t.Dir(), AnalysisFile), append(b, '\n')); err != nil {
				return err
			}
			return DrawResponses(filepath.Join(t.Dir(), ResponsesFile), []Analysis{*a})
		},
	}
}
