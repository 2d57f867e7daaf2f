package weights

import (
	"github.com/gorgonia-zoo/resnet/datasets/cifar10"
	"github.com/pkg/errors"
)

// ErrNoNormalization is the error, wrapped, of InputNormalization when the
// metadata lacks the normalization or a value it needs. Test for it with
// errors.Is; the caller may then choose a normalization explicitly.
var ErrNoNormalization = errors.New(`no input normalization in the metadata; want "normalization": "per-pixel-mean" with "normalize_pixel_mean" (3x32x32 floats), or "per-channel" with "normalize_mean" and "normalize_std" (R,G,B floats)`)

// InputNormalization returns the input normalization a weights file's
// metadata records (as ReadMetadata or Report.Metadata give it; source
// names the file in errors). It is the one rule evaluation and prediction
// share, so that both preprocess as training did:
//
//   - KeyNormalization "per-pixel-mean": KeyNormalizePixelMean must hold the
//     3x32x32 mean image (cifar10.ImageLen values); KeyNormalizeMean is
//     ignored and KeyNormalizeStd, when present, must be 1,1,1.
//   - KeyNormalization "per-channel": KeyNormalizeMean and KeyNormalizeStd
//     must hold 3 values each (R,G,B).
//   - no KeyNormalization: per-pixel-mean when KeyNormalizePixelMean is
//     present, else per-channel when KeyNormalizeMean and KeyNormalizeStd
//     both are (files converted from torchvision record only those).
//
// Anything else that is missing is an error wrapping ErrNoNormalization,
// naming source and the keys: there is no default, because a wrong one
// gives wrong answers silently. The way around it is the caller's explicit
// choice (statistics of the training data, or for torchvision's ImageNet
// weights its ImageNet mean and std). Values must be finite and stds
// positive (cifar10.Stats.Validate); the result feeds cifar10's iterators
// and Stats.Normalize as it is.
func InputNormalization(source string, metadata map[string]string) (cifar10.Stats, error) {
	var st cifar10.Stats
	_, hasPixelMean := metadata[KeyNormalizePixelMean]
	_, hasMean := metadata[KeyNormalizeMean]
	_, hasStd := metadata[KeyNormalizeStd]
	kind, ok := metadata[KeyNormalization]
	switch {
	case ok:
		if err := st.Normalization.UnmarshalText([]byte(kind)); err != nil {
			return cifar10.Stats{}, errors.WithMessagef(err, "weights: %s: metadata %s", source, KeyNormalization)
		}
	case hasPixelMean:
		st.Normalization = cifar10.PerPixelMean
	case hasMean && hasStd:
		st.Normalization = cifar10.PerChannel
	default:
		return cifar10.Stats{}, errors.Wrapf(ErrNoNormalization, "weights: %s", source)
	}
	var err error
	if st.Normalization == cifar10.PerPixelMean {
		st.Mean, err = metadataFloats(source, metadata, KeyNormalizePixelMean, cifar10.ImageLen, "a 3x32x32 mean image")
		if err == nil && hasStd {
			var std []float32
			if std, err = metadataFloats(source, metadata, KeyNormalizeStd, 3, "R,G,B"); err == nil && (std[0] != 1 || std[1] != 1 || std[2] != 1) {
				err = errors.Errorf("weights: %s: metadata %s is %s, but per-pixel-mean normalization divides by no std (want 1,1,1)", source, KeyNormalizeStd, metadata[KeyNormalizeStd])
			}
		}
	} else {
		st.Mean, err = metadataFloats(source, metadata, KeyNormalizeMean, 3, "R,G,B")
		if err == nil {
			st.Std, err = metadataFloats(source, metadata, KeyNormalizeStd, 3, "R,G,B")
		}
	}
	if err != nil {
		return cifar10.Stats{}, err
	}
	if err := st.Validate(); err != nil {
		return cifar10.Stats{}, errors.WithMessagef(err, "weights: %s: metadata", source)
	}
	return st, nil
}

// metadataFloats parses metadata[key], which must hold n floats (what
// names them); a missing key wraps ErrNoNormalization.
func metadataFloats(source string, metadata map[string]string, key string, n int, what string) ([]float32, error) {
	s, ok := metadata[key]
	if !ok {
		return nil, errors.Wrapf(ErrNoNormalization, "weights: %s: %s normalization without %s", source, metadata[KeyNormalization], key)
	}
	v, err := ParseFloats(s)
	if err == nil && len(v) != n {
		err = errors.Errorf("%d values, want %d (%s)", len(v), n, what)
	}
	if err != nil {
		if len(s) > 40 {
			s = s[:40] + "..."
		}
		return nil, errors.WithMessagef(err, "weights: %s: metadata %s %q", source, key, s)
	}
	out := make([]float32, n)
	for i, x := range v {
		out[i] = float32(x)
	}
	return out, nil
}

// NormalizationMetadata returns the metadata that records st for
// InputNormalization, to pass to Save: KeyNormalization and, for
// per-channel statistics, KeyNormalizeMean and KeyNormalizeStd; for
// per-pixel-mean, KeyNormalizePixelMean with the mean image's channel
// averages in KeyNormalizeMean and "1,1,1" in KeyNormalizeStd.
func NormalizationMetadata(st cifar10.Stats) (map[string]string, error) {
	if err := st.Validate(); err != nil {
		return nil, errors.WithMessage(err, "weights")
	}
	md := map[string]string{KeyNormalization: st.Normalization.String()}
	if st.Normalization == cifar10.PerChannel {
		md[KeyNormalizeMean], md[KeyNormalizeStd] = FormatFloats(st.Mean), FormatFloats(st.Std)
		return md, nil
	}
	mean := make([]float64, cifar10.Channels)
	for c := range mean {
		for _, v := range st.Mean[c*cifar10.PlaneLen : (c+1)*cifar10.PlaneLen] {
			mean[c] += float64(v) / cifar10.PlaneLen
		}
	}
	md[KeyNormalizeMean] = FormatFloats(mean)
	md[KeyNormalizeStd] = FormatFloats([]float64{1, 1, 1})
	md[KeyNormalizePixelMean] = FormatFloats(st.Mean)
	return md, nil
}
