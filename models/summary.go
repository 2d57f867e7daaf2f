package models

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/gorgonia/encoding/dot"
)

// MACs returns the multiply-accumulates of one forward pass on one image of
// the model's input size, counting convolutions and the linear layer as
// torchvision-based counters do.
func (m *Model) MACs() int64 {
	var total int64
	for _, l := range m.infos {
		total += l.MACs
	}
	return total
}

// Summary writes one line per layer (name, kind, output shape for one
// image, parameters, MACs) and ends with the line "params: <N> macs: <M>".
func (m *Model) Summary(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", "layer", "kind", "output", "params", "MACs")
	for _, l := range m.infos {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%d\t%d\t\n", l.Name, l.Kind, l.Out[1:], l.Params, l.MACs)
	}
	if err := tw.Flush(); err != nil {
		return errors.Wrap(err, "summary")
	}
	_, err := fmt.Fprintf(w, "%s: %d layers with weights\nparams: %d macs: %d\n", m.name, m.weightLayers(), m.NumParams(), m.MACs())
	return errors.Wrap(err, "summary")
}

// weightLayers counts convolutions and linear layers, the paper's depth
// (plus the projection convolutions of option B).
func (m *Model) weightLayers() int {
	n := 0
	for _, l := range m.infos {
		if l.MACs > 0 {
			n++
		}
	}
	return n
}

// Dot returns the model's forward graph for a batch of one in Graphviz DOT,
// through Gorgonia's graph encoder.
func (m *Model) Dot() ([]byte, error) {
	g := G.NewGraph()
	x := G.NewTensor(g, m.opts.Dtype, 4, G.WithShape(append([]int{1}, m.InputShape()...)...), G.WithName("input"))
	if _, err := m.Build(g, x); err != nil {
		return nil, err
	}
	b, err := dot.Marshal(g)
	return b, errors.Wrap(err, "dot")
}
