package pretrained

import (
	"strconv"

	"github.com/pkg/errors"
)

// Metadata keys of Provenance in a shipped file, beside the weights
// package's (model, normalization, ...). All values are strings, as
// safetensors requires.
const (
	KeySource     = "source"      // Provenance.Source
	KeyCommit     = "commit"      // Provenance.Commit; absent when unrecorded
	KeyIterations = "iterations"  // Provenance.Iterations, decimal
	KeySeed       = "seed"        // Provenance.Seed, decimal
	KeyData       = "data"        // Provenance.Data
	KeyDataSHA256 = "data_sha256" // Provenance.DataSHA256; absent for a directory
	KeyTestImages = "test_images" // Provenance.TestImages, decimal
	KeyTestError  = "test_error"  // Provenance.TestError, the shortest decimal that reads back exactly
	KeyTestLoss   = "test_loss"   // Provenance.TestLoss, likewise
)

// Provenance is how shipped weights were made and what they score: what
// their model card reports and their tests check.
type Provenance struct {
	// Source is the run directory they come from, relative to the
	// repository's root: "results/resnet20-64k/run".
	Source string
	// Commit is the commit of the program that trained them; empty when
	// not recorded.
	Commit string
	// Iterations is the training iterations (SGD steps) they had, and Seed
	// the run's seed.
	Iterations int
	Seed       int64
	// Data is the name of the data file they were trained and tested on
	// ("cifar-10-binary.tar.gz"), DataSHA256 its SHA-256 in hex (empty
	// when the data is a directory).
	Data       string
	DataSHA256 string
	// TestImages is the number of test images TestError and TestLoss were
	// measured on, as `train eval` measures them: TestError is the
	// fraction misclassified, TestLoss the mean cross-entropy.
	TestImages int
	TestError  float64
	TestLoss   float64
}

// Metadata returns p as the metadata of a shipped file, to pass to
// weights.Save beside the model's and normalization's keys.
func (p Provenance) Metadata() map[string]string {
	md := map[string]string{
		KeySource:     p.Source,
		KeyIterations: strconv.Itoa(p.Iterations),
		KeySeed:       strconv.FormatInt(p.Seed, 10),
		KeyData:       p.Data,
		KeyTestImages: strconv.Itoa(p.TestImages),
		KeyTestError:  strconv.FormatFloat(p.TestError, 'g', -1, 64),
		KeyTestLoss:   strconv.FormatFloat(p.TestLoss, 'g', -1, 64),
	}
	if p.Commit != "" {
		md[KeyCommit] = p.Commit
	}
	if p.DataSHA256 != "" {
		md[KeyDataSHA256] = p.DataSHA256
	}
	return md
}

// ParseProvenance reads the Provenance that Metadata wrote. Every key but
// KeyCommit and KeyDataSHA256 must be present; an error names the key and
// its value.
func ParseProvenance(md map[string]string) (Provenance, error) {
	var p Provenance
	var err error
	get := func(key string) string {
		v, ok := md[key]
		if !ok && err == nil {
			err = errors.Errorf("no %q metadata", key)
		}
		return v
	}
	num := func(key string, parse func(string) error) {
		if v := get(key); err == nil {
			if perr := parse(v); perr != nil {
				err = errors.Errorf("metadata %s %q: not a number", key, v)
			}
		}
	}
	p.Source, p.Data = get(KeySource), get(KeyData)
	p.Commit, p.DataSHA256 = md[KeyCommit], md[KeyDataSHA256]
	num(KeyIterations, func(s string) (e error) { p.Iterations, e = strconv.Atoi(s); return })
	num(KeySeed, func(s string) (e error) { p.Seed, e = strconv.ParseInt(s, 10, 64); return })
	num(KeyTestImages, func(s string) (e error) { p.TestImages, e = strconv.Atoi(s); return })
	num(KeyTestError, func(s string) (e error) { p.TestError, e = strconv.ParseFloat(s, 64); return })
	num(KeyTestLoss, func(s string) (e error) { p.TestLoss, e = strconv.ParseFloat(s, 64); return })
	if err == nil && (p.TestImages <= 0 || p.TestError < 0 || p.TestError > 1 || p.Iterations < 0) {
		err = errors.Errorf("metadata %s %d, %s %d, %s %g: want images > 0, iterations >= 0 and an error in [0, 1]",
			KeyTestImages, p.TestImages, KeyIterations, p.Iterations, KeyTestError, p.TestError)
	}
	return p, err
}
