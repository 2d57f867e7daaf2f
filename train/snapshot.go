package train

import (
	"encoding/json"
	"path/filepath"
	"strconv"

	"github.com/gorgonia-zoo/resnet/datasets/cifar10"
	"github.com/gorgonia-zoo/resnet/models"
	"github.com/gorgonia-zoo/resnet/safetensors"
	"github.com/gorgonia-zoo/resnet/weights"
	"github.com/pkg/errors"
)

// Snapshot is a run directory's model at its latest checkpoint, without
// the optimizer's state: the run's weights at iteration Iter.
type Snapshot struct {
	Info  RunInfo       // config.json
	Model *models.Model // the weights at Iter
	Stats cifar10.Stats // the input normalization the run trains with
	Iter  int           // the checkpoint's iteration
}

// Finished reports whether the snapshot is of the run's last iteration,
// the weights a finished run also wrote to WeightsFile.
func (s *Snapshot) Finished() bool { return s.Iter >= s.Info.Config.Iters }

// ReadSnapshot reads the latest checkpoint of the run directory dir into
// a new model. It reads only (config.json and the checkpoint) and locks
// nothing: a run may go on training in dir, since checkpoints are replaced
// atomically.
func ReadSnapshot(dir string) (*Snapshot, error) {
	info, err := ReadRunInfo(dir)
	if err != nil {
		return nil, err
	}
	path, err := checkpointOf(dir)
	if err != nil {
		return nil, err
	}
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, errors.Wrap(err, "checkpoint")
	}
	cfg := info.Config
	if f.Metadata["model"] != cfg.Model {
		return nil, errors.Errorf("%s: checkpoint of %q, but %s says %s", path, f.Metadata["model"], filepath.Join(dir, ConfigFile), cfg.Model)
	}
	s := &Snapshot{Info: info}
	if s.Iter, err = strconv.Atoi(f.Metadata[MetaIteration]); err != nil {
		return nil, errors.Wrapf(err, "%s: metadata %s", path, MetaIteration)
	}
	if err := json.Unmarshal([]byte(f.Metadata[MetaStats]), &s.Stats); err != nil {
		return nil, errors.Wrapf(err, "%s: metadata %s", path, MetaStats)
	}
	if err := s.Stats.Validate(); err != nil {
		return nil, errors.WithMessagef(err, "%s: metadata %s", path, MetaStats)
	}
	if s.Model, err = models.New(cfg.Model, cfg.modelOptions()); err != nil {
		return nil, err
	}
	opts := weights.LoadOptions{SkipPrefixes: []string{MomentumPrefix}}
	if _, err := weights.LoadState(s.Model.State(), f, opts); err != nil {
		return nil, errors.WithMessage(err, path)
	}
	return s, nil
}

// SaveWeights writes m to path as a run's final weights are written
// (WeightsFile): weights.Save with the input normalization stats
// (weights.NormalizationMetadata), so that evaluation and prediction
// preprocess as training did, and the caller's metadata, which may be nil.
func SaveWeights(path string, m *models.Model, stats cifar10.Stats, metadata map[string]string) error {
	md, err := weights.NormalizationMetadata(stats)
	if err != nil {
		return err
	}
	for k, v := range metadata {
		md[k] = v
	}
	return weights.Save(path, m, md)
}
