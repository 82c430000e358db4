"""Sample images generated on the fly (no files shipped, nothing downloaded): a photo-like scene."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageFilter


def photo_like(width: int = 640, height: int = 480, *, seed: int = 0, image_format: str = "JPEG") -> bytes:
    """A smooth sky-to-ground gradient with a few soft shapes: compresses and decodes like a photo."""
    rng = random.Random(seed)  # noqa: S311 - test pictures, not secrets
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    horizon = int(height * rng.uniform(0.45, 0.65))
    for y in range(height):
        if y < horizon:
            t = y / max(horizon, 1)
            color = (int(90 + 80 * t), int(150 + 60 * t), int(235 - 20 * t))
        else:
            t = (y - horizon) / max(height - horizon, 1)
            color = (int(60 + 40 * t), int(120 - 30 * t), int(50 + 10 * t))
        draw.line([(0, y), (width, y)], fill=color)
    for _ in range(rng.randint(3, 7)):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randint(max(width // 30, 2), max(width // 8, 3))
        fill = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.ellipse([x - r, y - r, x + r, y + r], fill=fill)
    image = image.filter(ImageFilter.GaussianBlur(radius=max(width // 400, 1)))
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **({"quality": 88} if image_format == "JPEG" else {}))
    return buffer.getvalue()
