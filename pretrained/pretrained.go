// Package pretrained holds the zoo's shipped weights: models this project
// trained, embedded in the library and looked up by model name, as
// torchvision's weight enums are. Lookup("resnet20") gives an Entry with
// the file's checksum and how the weights were made (Provenance: the run,
// the commit, the data, the test error); Entry.Load builds the model with
// them and Entry.Normalization is how to preprocess its inputs.
//
// A model without shipped weights is an error wrapping ErrNotShipped; its
// weights come from a file instead (weights.LoadModel). Models lists the
// models that have some. Files are shipped by writing them to files/ in
// this directory, named MODEL.safetensors, with `train export` (see
// files/README.md).
package pretrained

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/gorgonia-zoo/resnet/datasets/cifar10"
	"github.com/gorgonia-zoo/resnet/models"
	"github.com/gorgonia-zoo/resnet/safetensors"
	"github.com/gorgonia-zoo/resnet/weights"
	"github.com/pkg/errors"
)

// files holds the shipped weights, files/MODEL.safetensors, and a
// README.md, so that the pattern matches with no weights shipped.
//
//go:embed files
var files embed.FS

// dir is the embedded directory, and its path in the module.
const (
	dir       = "files"
	moduleDir = "pretrained/" + dir
	ext       = ".safetensors"
)

// ErrNotShipped is the error, wrapped, of Lookup for a model without
// shipped weights. Test for it with errors.Is.
var ErrNotShipped = errors.New("no shipped weights")

// notShipped is Lookup's error for model: ErrNotShipped, with the model
// and the way around it.
type notShipped struct{ model string }

func (e notShipped) Error() string {
	return "pretrained: no shipped weights for " + e.model + "; load a weights file instead (weights.LoadModel)"
}

func (e notShipped) Unwrap() error { return ErrNotShipped }

// Models returns the names of the models that have shipped weights,
// sorted.
func Models() []string {
	entries, _ := files.ReadDir(dir) // the directory is embedded: it exists
	var names []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ext); ok && !e.IsDir() {
			names = append(names, name)
		}
	}
	return names
}

// Entry is one model's shipped weights.
type Entry struct {
	// Model is the zoo model's name, as models.New takes it.
	Model string
	// Path is the file's path in the module:
	// "pretrained/files/resnet20.safetensors".
	Path string
	// Size is the file's length in bytes, SHA256 its SHA-256 in hex.
	Size   int
	SHA256 string
	// Normalization is how the model's inputs are preprocessed, as
	// training did (weights.InputNormalization of the metadata); pass it
	// to predict.ConfigFor or cifar10's iterators.
	Normalization cifar10.Stats
	// Provenance is how the weights were made.
	Provenance
	// Metadata is the file's whole metadata: weights' keys and
	// Provenance's.
	Metadata map[string]string
}

// Lookup returns the shipped weights of the zoo model called model, or an
// error wrapping ErrNotShipped when there are none. It reads and checks
// the embedded file: its "model" metadata must be model, and its
// normalization and provenance complete.
func Lookup(model string) (Entry, error) {
	f, b, err := read(model)
	if err != nil {
		return Entry{}, err
	}
	e := Entry{Model: model, Path: path.Join(moduleDir, model+ext), Size: len(b), Metadata: maps.Clone(f.Metadata)}
	sum := sha256.Sum256(b)
	e.SHA256 = hex.EncodeToString(sum[:])
	if got := e.Metadata[weights.KeyModel]; got != model {
		return Entry{}, errors.Errorf("pretrained: %s holds %q weights, want %s", e.Path, got, model)
	}
	if e.Normalization, err = weights.InputNormalization(e.Path, e.Metadata); err != nil {
		return Entry{}, errors.WithMessage(err, "pretrained")
	}
	if e.Provenance, err = ParseProvenance(e.Metadata); err != nil {
		return Entry{}, errors.WithMessagef(err, "pretrained: %s", e.Path)
	}
	return e, nil
}

// read returns the parsed shipped file of model and its bytes.
func read(model string) (*safetensors.File, []byte, error) {
	if !slices.Contains(Models(), model) {
		return nil, nil, notShipped{model}
	}
	b, err := files.ReadFile(path.Join(dir, model+ext))
	if err != nil {
		return nil, nil, errors.Wrap(err, "pretrained")
	}
	f, err := safetensors.Read(bytes.NewReader(b))
	if err != nil {
		return nil, nil, errors.WithMessagef(err, "pretrained: %s", path.Join(moduleDir, model+ext))
	}
	return f, b, nil
}

// Load builds e's model, float32, with its weights loaded (strictly, as
// weights.LoadModel loads a file). Each call returns a new model.
func (e Entry) Load() (*models.Model, error) {
	f, _, err := read(e.Model)
	if err != nil {
		return nil, err
	}
	m, _, err := weights.DecodeModel(e.Path, f, models.Options{})
	return m, errors.WithMessage(err, "pretrained")
}

// Open opens e's file, to copy it or hand it to another program (any
// safetensors reader, PyTorch's included).
func (e Entry) Open() (fs.File, error) {
	if !slices.Contains(Models(), e.Model) {
		return nil, notShipped{e.Model}
	}
	return files.Open(path.Join(dir, e.Model+ext))
}
