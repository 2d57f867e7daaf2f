package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	"github.com/gorgonia-zoo/resnet/pretrained"
	"github.com/gorgonia-zoo/resnet/train"
	"github.com/pkg/errors"
)

var exportCmd = &command{
	name: "export", args: "RUN_DIR", minArgs: 1, maxArgs: 1,
	short: "write a finished run's weights, with how they were made, to ship or share",
	long: `Export writes the weights of a finished run to one file: the model's tensors
without the optimizer's state, the input normalization, and how they were
made (pretrained.Provenance): the run directory, the commit its program was
built from (-commit), iterations, seed, the data file's name and SHA-256, and
the test loss and error that eval measures, on all of the test images. It
reads the run's latest checkpoint, which for a finished run holds its final
weights; -partial allows an unfinished run's, to try the file out, never to
ship it. The file is written atomically. Written to
pretrained/files/MODEL.safetensors, it is shipped with the zoo: the default
weights of eval and predict (pretrained/files/README.md).`,
	example: `train export results/resnet20-64k/run -commit 3a0226c02effb074ff44188716d0d5f81bc45991 -out pretrained/files/resnet20.safetensors
train export runs/resnet56-20261127-081500 -out resnet56.safetensors -data cifar-10-binary.tar.gz`,
	setup: setupExport,
}

// commitPattern is what -commit takes: an abbreviated or full git hash.
var commitPattern = regexp.MustCompile(`^[0-9a-f]{7,64}$`)

func setupExport(fs *flag.FlagSet) func([]string) (action, error) {
	out := fs.String("out", "", "the weights `FILE` to write")
	commit := fs.String("commit", "", "the git `hash` of the program that trained the run, to record (scripts/resnet20-paper.sh: results/resnet20-64k/COMMIT)")
	data := fs.String("data", "", "CIFAR-10 `path` to measure the test error on (default: the data the run recorded)")
	partial := fs.Bool("partial", false, "export an unfinished run's latest checkpoint")
	return func(args []string) (action, error) {
		if *out == "" {
			return nil, errors.New("missing -out FILE")
		}
		if *commit != "" && !commitPattern.MatchString(*commit) {
			return nil, errors.Errorf("-commit %s: want a git hash, 7 to 64 lowercase hexadecimal digits", *commit)
		}
		return func(ctx context.Context, e env) error {
			return export(ctx, e, args[0], *out, *commit, *data, *partial)
		}, nil
	}
}

// export writes the weights of the run in dir to out with their
// provenance, the test error measured on data (the run's own data when
// empty).
func export(ctx context.Context, e env, dir, out, commit, data string, partial bool) error {
	s, err := train.ReadSnapshot(dir)
	if err != nil {
		return err
	}
	cfg := s.Info.Config
	if !s.Finished() && !partial {
		return errors.Errorf("run %s is unfinished, at iteration %d of %d (-partial exports its latest checkpoint)", dir, s.Iter, cfg.Iters)
	}
	if data == "" {
		data = cfg.Data
	}
	ds, path, err := loadData(ctx, data, false, e.stderr)
	if err != nil {
		return err
	}
	loss, errRate, err := testScore(s.Model, ds.Test, s.Stats)
	if err != nil {
		return err
	}
	sum, err := fileSHA256(path)
	if err != nil {
		return err
	}
	p := pretrained.Provenance{
		Source: filepath.ToSlash(filepath.Clean(dir)), Commit: commit, Iterations: s.Iter, Seed: cfg.Seed,
		Data: filepath.Base(path), DataSHA256: sum, TestImages: ds.Test.Len(), TestError: errRate, TestLoss: loss,
	}
	if err := train.SaveWeights(out, s.Model, s.Stats, p.Metadata()); err != nil {
		return errors.WithMessage(err, "-out")
	}
	written, err := fileSHA256(out)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s at iteration %d of %d: test loss %.4f, test error %.2f%% on %d test images\nwrote %s, sha256 %s\n",
		cfg.Model, s.Iter, cfg.Iters, loss, 100*errRate, ds.Test.Len(), out, written)
	return nil
}

// fileSHA256 returns the SHA-256 of the file at path in hex, or "" when
// path is a directory (an extracted archive).
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", errors.Wrap(err, "checksum")
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return "", nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", errors.Wrapf(err, "checksum of %s", path)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
