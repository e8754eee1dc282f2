"""torch.nn building blocks shared by the skvsc estimators.

Every constructor takes a ``generator`` (a :class:`torch.Generator`): weights
are drawn from it explicitly, so building a module never touches torch's global
random stream and the same generator state gives the same weights.
"""

import math
import numbers

import torch
from torch import nn

__all__ = [
    "check_hidden_layer_sizes",
    "make_linear",
    "normalize_columns_",
    "normalize_rows_",
    "LinearDictionary",
    "ResidualBlock",
    "Encoder",
    "LISTAEncoder",
    "HiddenLayerDecoder",
    "MLPDecoder",
    "StandardizedAutoencoder",
]


def make_linear(in_features, out_features, *, bias=True, generator=None):
    """A :class:`torch.nn.Linear` initialised from ``generator``.

    Same distribution as PyTorch's default initialisation (uniform on
    ``±1/√in_features`` for the weight and the bias), but drawn from the given
    generator instead of the global one.

    Parameters
    ----------
    in_features, out_features : int
        Layer sizes.
    bias : bool, default=True
        Whether the layer has a bias.
    generator : torch.Generator or None, default=None
        Source of randomness (CPU generator).

    Returns
    -------
    torch.nn.Linear
        The layer, on the CPU.
    """
    layer = torch.nn.utils.skip_init(nn.Linear, in_features, out_features, bias=bias)
    bound = 1.0 / math.sqrt(in_features)
    with torch.no_grad():
        layer.weight.copy_(
            torch.empty(out_features, in_features).uniform_(-bound, bound, generator=generator)
        )
        if bias:
            layer.bias.copy_(
                torch.empty(out_features).uniform_(-bound, bound, generator=generator)
            )
    return layer


@torch.no_grad()
def normalize_columns_(weight, eps=1e-12):
    """Project every column of a 2-D tensor onto the unit L2 sphere, in place.

    Parameters
    ----------
    weight : torch.Tensor of shape (n_rows, n_columns)
        Modified in place (gradients are not tracked).
    eps : float, default=1e-12
        Columns with a smaller norm are divided by ``eps`` instead.

    Returns
    -------
    torch.Tensor
        ``weight``.
    """
    return weight.div_(torch.linalg.vector_norm(weight, dim=0, keepdim=True).clamp(min=eps))


@torch.no_grad()
def normalize_rows_(weight, eps=1e-12):
    """Project every row of a 2-D tensor onto the unit L2 sphere, in place."""
    return weight.div_(torch.linalg.vector_norm(weight, dim=1, keepdim=True).clamp(min=eps))


def check_hidden_layer_sizes(hidden_layer_sizes):
    """Validate hidden layer sizes: a non-empty sequence of positive integers.

    Parameters
    ----------
    hidden_layer_sizes : sequence of int
        The sizes, as given by the user.

    Returns
    -------
    tuple of int

    Raises
    ------
    ValueError
        If the sequence is empty or an entry is not a positive integer.
    """
    sizes = tuple(hidden_layer_sizes)
    if not sizes or not all(isinstance(h, numbers.Integral) and h >= 1 for h in sizes):
        raise ValueError("hidden_layer_sizes must be a non-empty sequence of positive "
                         f"integers, got {hidden_layer_sizes!r}.")
    return tuple(int(h) for h in sizes)


class LinearDictionary(nn.Module):
    """Linear decoder without bias, ``x̂ = U z``, with atoms as columns of ``U``.

    ``weight`` has the shape of ``nn.Linear(n_components, n_features).weight``,
    i.e. (n_features, n_components): column ``k`` is atom ``k``.  It starts as
    random unit-norm columns.

    Parameters
    ----------
    n_components : int
        Number of atoms (latent dimension).
    n_features : int
        Dimension of the data.
    generator : torch.Generator or None, default=None
        Source of randomness for the initial atoms.
    """

    def __init__(self, n_components, n_features, *, generator=None):
        super().__init__()
        weight = torch.randn(n_features, n_components, generator=generator)
        self.weight = nn.Parameter(normalize_columns_(weight))

    def forward(self, z):
        return z @ self.weight.T

    def normalize_(self):
        """Project every atom (column) to unit L2 norm, in place."""
        normalize_columns_(self.weight.data)
        return self

    @property
    def atoms(self):
        """The atoms as rows, shape (n_components, n_features) (a view)."""
        return self.weight.T


class ResidualBlock(nn.Module):
    """Pre-activation residual block ``h + W₂ ReLU(W₁ ReLU(h))`` (He et al. 2016).

    Parameters
    ----------
    width : int
        Size of the residual stream.
    hidden : int
        Inner size of the block.
    generator : torch.Generator or None, default=None
        Source of randomness for the weights.
    """

    def __init__(self, width, hidden, *, generator=None):
        super().__init__()
        self.inner = make_linear(width, hidden, generator=generator)
        self.outer = make_linear(hidden, width, generator=generator)

    def forward(self, h):
        return h + self.outer(torch.relu(self.inner(torch.relu(h))))


class Encoder(nn.Module):
    """An amortised encoder: a body shared by ``n_heads`` linear output heads.

    Bodies:

    ``"linear"``
        No hidden layer: every head is an affine function of ``x``.
    ``"mlp"``
        ``Linear → ReLU`` for each entry of ``hidden_sizes`` (Barello et al.'s
        SVAE encoder is ``hidden_sizes`` of length two).
    ``"resnet"``
        A linear stem to ``hidden_sizes[0]`` units, then one
        :class:`ResidualBlock` per entry of ``hidden_sizes`` (its inner width),
        then a ReLU (paper 000 §3, "more expressive encoder").

    Parameters
    ----------
    n_features : int
        Input dimension.
    n_components : int
        Size of every head (the latent dimension).
    kind : {"linear", "mlp", "resnet"}, default="mlp"
        The body.
    hidden_sizes : sequence of int, default=(256, 256)
        Hidden sizes (ignored by ``"linear"``).
    n_heads : int, default=2
        Number of outputs (e.g. 2 for μ and log σ², 3 with a spike logit).
    generator : torch.Generator or None, default=None
        Source of randomness for the weights.

    Returns
    -------
    Calling the module on a batch ``(n, n_features)`` returns a tuple of
    ``n_heads`` tensors of shape ``(n, n_components)``.
    """

    def __init__(self, n_features, n_components, *, kind="mlp", hidden_sizes=(256, 256),
                 n_heads=2, generator=None):
        super().__init__()
        if kind != "linear":
            hidden_sizes = check_hidden_layer_sizes(hidden_sizes)
        layers = []
        if kind == "linear":
            width = n_features
        elif kind == "mlp":
            width = n_features
            for size in hidden_sizes:
                layers += [make_linear(width, size, generator=generator), nn.ReLU()]
                width = size
        elif kind == "resnet":
            width = hidden_sizes[0]
            layers.append(make_linear(n_features, width, generator=generator))
            layers += [ResidualBlock(width, size, generator=generator) for size in hidden_sizes]
            layers.append(nn.ReLU())
        else:
            raise ValueError(f"Unknown encoder kind {kind!r}; use 'linear', 'mlp' or 'resnet'.")
        self.body = nn.Sequential(*layers)
        self.heads = nn.ModuleList(
            make_linear(width, n_components, generator=generator) for _ in range(n_heads)
        )

    def forward(self, x):
        h = self.body(x)
        return tuple(head(h) for head in self.heads)


class LISTAEncoder(nn.Module):
    """LISTA encoder with ``n_iter`` unrolled iterations (paper 002, Algorithm 1).

    ``u = U y + b``, ``z₀ = ρ(u)``, ``zᵢ = ρ(u + S zᵢ₋₁)`` for ``i = 1..n_iter``,
    output ``z_{n_iter}`` (Gregor & LeCun 2010; Evtimova & LeCun 2022).  With
    ``positive=True`` the non-linearity ``ρ`` is a ReLU, as in Algorithm 1 (the
    bias ``b`` plays the role of the negative threshold).  With
    ``positive=False`` it is a soft-threshold with a learned per-component
    threshold ``|θ|`` (the original LISTA), so codes can be negative.

    Parameters
    ----------
    n_features : int
        Input dimension ``d``.
    n_components : int
        Code dimension ``l``.
    n_iter : int, default=3
        Number of unrolled iterations ``L``.
    positive : bool, default=True
        Non-negative codes (ReLU) or signed codes (soft-threshold).
    generator : torch.Generator or None, default=None
        Source of randomness for the weights.
    """

    def __init__(self, n_features, n_components, *, n_iter=3, positive=True, generator=None):
        super().__init__()
        self.n_iter = int(n_iter)
        self.positive = bool(positive)
        self.U = make_linear(n_features, n_components, bias=True, generator=generator)
        self.S = make_linear(n_components, n_components, bias=False, generator=generator)
        if not self.positive:
            self.threshold = nn.Parameter(torch.full((n_components,), 1e-2))

    def _rho(self, x):
        if self.positive:
            return torch.relu(x)
        theta = self.threshold.abs()
        return torch.relu(x - theta) - torch.relu(-x - theta)

    def forward(self, y):
        u = self.U(y)
        z = self._rho(u)
        for _ in range(self.n_iter):
            z = self._rho(u + self.S(z))
        return z


class HiddenLayerDecoder(nn.Module):
    """Decoder with one hidden ReLU layer: ``x̂ = W₂ ReLU(W₁ z + b₁)`` (paper 002 §3.1).

    ``W₁`` (``layer1.weight``, shape (hidden_size, n_components)) has a bias
    ``b₁``; ``W₂`` (``layer2.weight``, shape (n_features, hidden_size)) has none.

    Parameters
    ----------
    n_components : int
        Code dimension ``l``.
    n_features : int
        Output dimension ``d``.
    hidden_size : int
        Hidden dimension ``m``.
    generator : torch.Generator or None, default=None
        Source of randomness for the weights.
    """

    def __init__(self, n_components, n_features, hidden_size, *, generator=None):
        super().__init__()
        self.layer1 = make_linear(n_components, hidden_size, bias=True, generator=generator)
        self.layer2 = make_linear(hidden_size, n_features, bias=False, generator=generator)

    def forward(self, z):
        return self.layer2(torch.relu(self.layer1(z)))

    def normalize_(self):
        """Project the columns of ``W₁`` and of ``W₂`` to unit L2 norm, in place."""
        normalize_columns_(self.layer1.weight.data)
        normalize_columns_(self.layer2.weight.data)
        return self

    @property
    def atoms(self):
        """Response to each one-hot code with ``b₁`` removed: ``W₂ ReLU(W₁ eᵢ)`` as rows.

        Shape (n_components, n_features); paper 002 §4.1.1 and its footnote 6.
        """
        return torch.relu(self.layer1.weight.T) @ self.layer2.weight.T


class MLPDecoder(nn.Module):
    """Fully connected decoder ``z → [Linear → ReLU]* → Linear`` with biases.

    The generative network of Tonolini et al.'s VSC (paper 004 uses one hidden
    layer of 400 units for MNIST); the output is the likelihood's mean (or its
    logits, for a Bernoulli likelihood).

    Parameters
    ----------
    n_components : int
        Code dimension.
    n_features : int
        Output dimension.
    hidden_sizes : sequence of int
        Hidden layer sizes (may be empty: an affine decoder).
    generator : torch.Generator or None, default=None
        Source of randomness for the weights.
    """

    def __init__(self, n_components, n_features, hidden_sizes, *, generator=None):
        super().__init__()
        layers, width = [], n_components
        for size in hidden_sizes:
            layers += [make_linear(width, int(size), generator=generator), nn.ReLU()]
            width = int(size)
        layers.append(make_linear(width, n_features, generator=generator))
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z)


class StandardizedAutoencoder(nn.Module):
    """An encoder and a decoder around standardised data, with a noise variance.

    The encoder sees ``(x − x_mean) / x_scale``; with ``affine_output`` the
    decoder's output is mapped back to the data's units; ``noise_var`` holds a
    running estimate of a Gaussian likelihood's variance.  The buffers are set
    from the training data by the estimator.
    """

    def __init__(self, encoder, decoder, n_features, *, affine_output, output_bias):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        # Input standardisation (set from the training data) and the running
        # estimate of the Gaussian observation variance.
        self.register_buffer("x_mean", torch.zeros(n_features))
        self.register_buffer("x_scale", torch.ones(()))
        self.register_buffer("noise_var", torch.ones(()))
        self.affine_output = affine_output
        self.bias = nn.Parameter(torch.zeros(n_features)) if output_bias else None

    def encode(self, x):
        return self.encoder((x - self.x_mean) / self.x_scale)

    def decode(self, z):
        """Mean of a Gaussian likelihood, or logits of a Bernoulli one."""
        out = self.decoder(z)
        if self.affine_output:
            out = self.x_mean + self.x_scale * out
        if self.bias is not None:
            out = out + self.bias
        return out
