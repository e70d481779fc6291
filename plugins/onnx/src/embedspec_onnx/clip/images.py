"""Decoding image inputs (paths, bytes, Pillow images, uint8 arrays) into RGB Pillow images.

Every failure names the item's position in the caller's batch: a missing, corrupt, truncated or
non-image file, a 0x0 image, an image past the decompression-bomb limit, a wrong array shape.
Strings are texts, never paths: pass image files as ``pathlib.Path`` (any ``os.PathLike``).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

from embedspec.errors import EmbedspecError

from ..common.runtime import require

#: Pillow's own default ``Image.MAX_IMAGE_PIXELS`` (about 89.5 megapixels).
DEFAULT_MAX_PIXELS = 89_478_485
HighBitDepth = Literal["scale", "clip"]
SUPPORTED = "str (text), os.PathLike / bytes / PIL.Image.Image / HxWxC uint8 numpy array (image)"


class ImageInputError(EmbedspecError, ValueError):
    """An image input could not be used; ``position`` is its index in the caller's batch."""

    def __init__(self, message: str, position: int | None = None,
                 positions: Sequence[int] | None = None) -> None:
        super().__init__(message)
        self.position = position
        self.positions = list(positions) if positions is not None else ([position] if position is not None else [])


def modality_of(item: Any) -> str | None:
    """``"text"``, ``"image"`` or None (unsupported) -- without importing Pillow or numpy."""
    if isinstance(item, str):
        return "text"
    if isinstance(item, (bytes, bytearray, memoryview, os.PathLike)):
        return "image"
    cls = type(item)
    module = cls.__module__ or ""
    if module.startswith("PIL.") and any(c.__name__ == "Image" for c in cls.__mro__):
        return "image"
    if module == "numpy" and cls.__name__ == "ndarray":
        return "image"
    return None


def check_array(arr: Any, position: int) -> None:
    """Reject arrays that are not ``(H, W)`` or ``(H, W, 1|3|4)`` uint8 with H, W > 0."""
    shape = tuple(arr.shape)
    if arr.dtype.name != "uint8":
        raise ImageInputError(
            f"image array at position {position} has dtype {arr.dtype}; expected uint8 (0..255) "
            "pixels -- convert with (x * 255).clip(0, 255).astype('uint8') for floats in 0..1",
            position,
        )
    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] not in (1, 3, 4)):
        raise ImageInputError(
            f"image array at position {position} has shape {shape}; expected (H, W) or (H, W, C) "
            "with C in 1, 3, 4 (channels last)",
            position,
        )
    if shape[0] == 0 or shape[1] == 0:
        raise ImageInputError(f"image array at position {position} is empty: shape {shape}", position)


def _describe(item: Any) -> str:
    if isinstance(item, os.PathLike):
        return f"file {os.fspath(item)!r}"
    if isinstance(item, (bytes, bytearray, memoryview)):
        return f"{len(item)} bytes"
    return type(item).__name__


def decode_image(
    item: Any,
    position: int,
    *,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    high_bit_depth: HighBitDepth = "scale",
) -> Any:
    """One input -> a loaded RGB ``PIL.Image.Image`` with its EXIF orientation applied.

    ``max_pixels`` bounds width x height of encoded inputs (paths, bytes) before decoding;
    None leaves only Pillow's own ``Image.MAX_IMAGE_PIXELS`` check. ``high_bit_depth``: 16/32-bit
    grey images are scaled to 8 bits (``"scale"``) or clipped at 255 like ``Image.convert("RGB")``
    and transformers' processors do (``"clip"``).
    """
    Image = require("PIL.Image")
    where = f"image at position {position} ({_describe(item)})"
    if isinstance(item, os.PathLike):  # read whole: no file handle outlives this call
        path = Path(os.fspath(item))
        if not path.is_file():
            raise ImageInputError(f"{where}: no such file", position)
        try:
            item = path.read_bytes()
        except OSError as exc:
            raise ImageInputError(f"{where}: cannot read the file ({exc})", position) from None
    try:
        if isinstance(item, Image.Image):
            image = item
            image.load()
        elif isinstance(item, (bytes, bytearray, memoryview)):
            image = Image.open(io.BytesIO(bytes(item)))
            _check_pixels(image.size, max_pixels, where, position)
            image.load()
        else:
            check_array(item, position)
            image = Image.fromarray(item[:, :, 0] if item.ndim == 3 and item.shape[2] == 1 else item)
    except ImageInputError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageInputError(
            f"{where}: refused as a possible decompression bomb ({exc}); raise PIL.Image.MAX_IMAGE_PIXELS "
            "as well as the encoder's max_image_pixels to read it",
            position,
        ) from None
    except Image.UnidentifiedImageError:
        raise ImageInputError(f"{where}: not an image file Pillow can read", position) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageInputError(f"{where}: corrupt or truncated image ({exc})", position) from None
    if image.width == 0 or image.height == 0:
        raise ImageInputError(f"{where}: image is empty ({image.width}x{image.height})", position)
    return to_rgb(image, high_bit_depth=high_bit_depth, where=where, position=position)


def _check_pixels(size: tuple[int, int], max_pixels: int | None, where: str, position: int) -> None:
    if max_pixels is not None and size[0] * size[1] > max_pixels:
        raise ImageInputError(
            f"{where}: {size[0]}x{size[1]} = {size[0] * size[1]} pixels is over the limit of "
            f"{max_pixels} (max_image_pixels; a guard against decompression bombs)",
            position,
        )


def to_rgb(image: Any, *, high_bit_depth: HighBitDepth = "scale", where: str = "image",
           position: int | None = None) -> Any:
    """EXIF orientation applied, then converted to RGB the way ``Image.convert("RGB")`` does.

    Alpha is dropped, not composited (as CLIP's and transformers' ``convert("RGB")``); P, L, LA,
    CMYK, YCbCr... use Pillow's conversions. ``"scale"`` maps 16-bit grey (modes I;16*, I) to
    8 bits by rounding ``v / 257``, where ``convert`` would clip every value above 255.
    """
    ImageOps = require("PIL.ImageOps")
    try:
        image = ImageOps.exif_transpose(image)
        if image.mode.startswith("I") and high_bit_depth == "scale":
            image = _scale_to_8_bits(image)
        if image.mode != "RGB":
            image = image.convert("RGB")
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageInputError(f"{where}: cannot convert mode {image.mode!r} to RGB ({exc})", position) from None
    return image


def _scale_to_8_bits(image: Any) -> Any:
    """A 16-bit grey image (values 0..65535) as an 8-bit ``L`` image: ``round(v / 257)``."""
    import numpy as np

    Image = require("PIL.Image")
    grey = np.asarray(image, dtype=np.int64).clip(0, 65535)
    return Image.fromarray(((grey + 128) // 257).astype(np.uint8))


def decode_images(
    items: Sequence[Any],
    positions: Sequence[int],
    *,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    high_bit_depth: HighBitDepth = "scale",
    transform: Callable[[Any], Any] | None = None,
    workers: int = 1,
) -> list[Any]:
    """Decode every item (then ``transform`` it), on ``workers`` threads; results in input order.

    Pillow releases the GIL while decoding and resizing, so threads scale on multi-core machines.
    Raises one ``ImageInputError`` listing every failure (``position``: the first one).
    """

    def one(pair: tuple[Any, int]) -> Any:
        try:
            image = decode_image(pair[0], pair[1], max_pixels=max_pixels, high_bit_depth=high_bit_depth)
            return transform(image) if transform is not None else image
        except ImageInputError as exc:
            return exc

    pairs = list(zip(items, positions))
    if workers > 1 and len(pairs) > 1:
        with ThreadPoolExecutor(max_workers=min(workers, len(pairs))) as pool:
            results = list(pool.map(one, pairs))
    else:
        results = [one(p) for p in pairs]
    failures = [r for r in results if isinstance(r, ImageInputError)]
    if len(failures) == 1:
        raise failures[0]
    if failures:
        listed = "; ".join(str(f) for f in failures[:10])
        more = f"; and {len(failures) - 10} more" if len(failures) > 10 else ""
        raise ImageInputError(
            f"{len(failures)} images could not be used: {listed}{more}",
            failures[0].position,
            [f.position for f in failures if f.position is not None],
        )
    return results
