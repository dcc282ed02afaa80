/* Image decoding and preprocessing for the classify example.
 *
 * Every payload is hostile: decoders run with their error handlers redirected
 * (libjpeg: error_exit longjmps out; libpng: the simplified API, which keeps
 * its own setjmp inside libpng), dimensions are checked before any pixel
 * buffer is allocated, and corrupt or truncated data is an error, not a
 * partially grey picture. */
#ifndef CLASSIFY_IMAGE_H
#define CLASSIFY_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define IMG_MAX_SIDE 8192u              /* pixels per side */
#define IMG_MAX_PIXELS (24u << 20)      /* 24 Mpx: 72 MiB of RGB */
#define IMG_MAX_JPEG_SCANS 256          /* progressive JPEGs with more scans are refused */
#define IMG_ERR_MAX 256

typedef struct img_rgb {
    uint32_t w, h;
    uint8_t *px; /* w * h * 3 bytes, row-major RGB; malloc'd */
} img_rgb;

/* Decodes a JPEG or PNG (sniffed from the magic bytes) into out (free with
 * img_free). 0, or -1 with one line in err. */
int img_decode(const void *data, size_t len, img_rgb *out, char err[IMG_ERR_MAX]);
void img_free(img_rgb *img);

/* Bilinear resize (half-pixel centres, no antialiasing: OpenCV's INTER_LINEAR,
 * PyTorch's interpolate(align_corners=False)) of src to dw x dh, then
 * (v / 255 - mean[c]) / std[c], written planar (NCHW, one image) into dst,
 * which holds 3 * dw * dh floats. */
void img_to_tensor(const img_rgb *src, uint32_t dw, uint32_t dh, const float mean[3],
                   const float std[3], float *dst);

#endif
