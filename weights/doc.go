// Package weights saves and loads the zoo's models as safetensors files
// under torchvision's state_dict names and layouts, so weights move between
// this zoo and PyTorch without renaming or transposing anything:
//
//	conv1.weight                (out, in, kh, kw)   F32
//	bn1.weight, bn1.bias        (C)                 F32  gamma, beta
//	bn1.running_mean/_var       (C)                 F32
//	bn1.num_batches_tracked     ()                  I64  scalar
//	layer2.0.downsample.0.weight ...
//	fc.weight (out, in), fc.bias (out)              F32
//
// Save writes a model atomically with metadata (KeyModel, KeyNumClasses,
// ... and the caller's keys, such as the input normalization that
// NormalizationMetadata formats); Load reads a file into a model in place,
// strictly by default, listing every missing, unexpected, misshapen or
// wrongly typed tensor when the file does not fit, and refusing NaN and
// infinite values; InitFrom is the fine-tuning load that skips a classifier
// of another width; LoadModel builds the model a file describes, and
// DecodeModel the model of a file already in memory (an embedded one, as
// package pretrained's). LoadState and Encode work on any layers.State, for
// networks built by hand.
//
// InputNormalization is the one rule by which evaluation and prediction
// read the input normalization from a file's metadata, as cifar10.Stats;
// metadata that lacks it is an error (ErrNoNormalization), never a default.
//
// The parity tests load fixtures written by scripts/parity/make_fixtures.py
// with PyTorch and check that the zoo's ResNet-20 and a Bottleneck ResNet
// give PyTorch's logits, loss and gradients. See README.md in this
// directory for converting torchvision's ImageNet weights.
package weights
