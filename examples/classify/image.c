/* JPEG (libjpeg-turbo) and PNG (libpng) decoding into RGB, and the bilinear
 * resize + normalisation that turns a picture into the model's input. */
#include "image.h"

#include <setjmp.h>
#include <stdio.h> /* before jpeglib.h, which uses FILE */
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

void img_free(img_rgb *img)
{
    if (!img)
        return;
    free(img->px);
    img->px = NULL;
    img->w = img->h = 0;
}

static int check_dims(const char *kind, uint64_t w, uint64_t h, char *err)
{
    if (w == 0 || h == 0) {
        snprintf(err, IMG_ERR_MAX, "%s: empty image (%llux%llu)", kind, (unsigned long long)w,
                 (unsigned long long)h);
        return -1;
    }
    if (w > IMG_MAX_SIDE || h > IMG_MAX_SIDE || w * h > IMG_MAX_PIXELS) {
        snprintf(err, IMG_ERR_MAX, "%s: %llux%llu is over the limit (%u per side, %u pixels)",
                 kind, (unsigned long long)w, (unsigned long long)h, IMG_MAX_SIDE, IMG_MAX_PIXELS);
        return -1;
    }
    return 0;
}

/* ---- JPEG ---- */

typedef struct jerr {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
    int warnings;
} jerr;

static void j_error_exit(j_common_ptr c)
{
    jerr *e = (jerr *)c->err;
    c->err->format_message(c, e->msg);
    longjmp(e->jb, 1);
}

/* Warnings (level -1) mean corrupt or truncated data: libjpeg would go on and
 * fill the rest with grey. We keep the first text and refuse the image. */
static void j_emit_message(j_common_ptr c, int level)
{
    jerr *e = (jerr *)c->err;
    if (level >= 0)
        return;
    if (e->warnings++ == 0)
        c->err->format_message(c, e->msg);
}

/* A progressive JPEG can carry thousands of tiny scans, each a full pass
 * over the coefficients: bound them. */
static void j_progress(j_common_ptr c)
{
    j_decompress_ptr d = (j_decompress_ptr)c;
    jerr *e = (jerr *)c->err;
    if (d->input_scan_number > IMG_MAX_JPEG_SCANS) {
        snprintf(e->msg, sizeof e->msg, "more than %d scans", IMG_MAX_JPEG_SCANS);
        longjmp(e->jb, 1);
    }
}

static int decode_jpeg(const void *data, size_t len, img_rgb *out, char *err)
{
    struct jpeg_decompress_struct cinfo;
    struct jpeg_progress_mgr prog;
    jerr je;
    uint8_t *volatile px = NULL;
    volatile int created = 0;

    memset(&cinfo, 0, sizeof cinfo);
    memset(&je, 0, sizeof je);
    cinfo.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = j_error_exit;
    je.pub.emit_message = j_emit_message;
    if (setjmp(je.jb)) {
        snprintf(err, IMG_ERR_MAX, "JPEG: %s", je.msg[0] ? je.msg : "decoder error");
        if (created)
            jpeg_destroy_decompress(&cinfo);
        free(px);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    created = 1;
    memset(&prog, 0, sizeof prog);
    prog.progress_monitor = j_progress;
    cinfo.progress = &prog;
    jpeg_mem_src(&cinfo, (const unsigned char *)data, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    if (check_dims("JPEG", cinfo.image_width, cinfo.image_height, err) != 0) {
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    cinfo.out_color_space = JCS_RGB; /* grey and YCbCr convert; CMYK is refused by libjpeg */
    jpeg_start_decompress(&cinfo);
    if (cinfo.output_components != 3 || cinfo.output_width != cinfo.image_width ||
        cinfo.output_height != cinfo.image_height) {
        snprintf(err, IMG_ERR_MAX, "JPEG: unexpected output (%d components)",
                 cinfo.output_components);
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    size_t stride = (size_t)cinfo.output_width * 3;
    px = malloc(stride * cinfo.output_height);
    if (!px) {
        snprintf(err, IMG_ERR_MAX, "JPEG: out of memory for %ux%u", cinfo.output_width,
                 cinfo.output_height);
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = px + stride * cinfo.output_scanline;
        if (jpeg_read_scanlines(&cinfo, &row, 1) != 1)
            break; /* suspension cannot happen with a memory source; be safe */
    }
    if (cinfo.output_scanline < cinfo.output_height && !je.warnings) {
        je.warnings = 1;
        snprintf(je.msg, sizeof je.msg, "stopped at row %u of %u", cinfo.output_scanline,
                 cinfo.output_height);
    }
    if (!je.warnings)
        jpeg_finish_decompress(&cinfo);
    if (je.warnings) {
        snprintf(err, IMG_ERR_MAX, "JPEG: corrupt data: %s", je.msg);
        jpeg_destroy_decompress(&cinfo);
        free(px);
        return -1;
    }
    out->w = cinfo.output_width;
    out->h = cinfo.output_height;
    out->px = px;
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

/* ---- PNG: libpng's simplified API keeps the setjmp inside libpng ---- */

static int decode_png(const void *data, size_t len, img_rgb *out, char *err)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&im, data, len)) {
        snprintf(err, IMG_ERR_MAX, "PNG: %s", im.message[0] ? im.message : "bad header");
        png_image_free(&im);
        return -1;
    }
    if (check_dims("PNG", im.width, im.height, err) != 0) {
        png_image_free(&im);
        return -1;
    }
    im.format = PNG_FORMAT_RGB; /* alpha is composed onto the zeroed buffer (black) */
    size_t n = (size_t)im.width * im.height * 3;
    uint8_t *px = calloc(1, n);
    if (!px) {
        snprintf(err, IMG_ERR_MAX, "PNG: out of memory for %ux%u", im.width, im.height);
        png_image_free(&im);
        return -1;
    }
    if (!png_image_finish_read(&im, NULL, px, 0, NULL)) {
        snprintf(err, IMG_ERR_MAX, "PNG: %s", im.message[0] ? im.message : "decoder error");
        png_image_free(&im);
        free(px);
        return -1;
    }
    out->w = im.width;
    out->h = im.height;
    out->px = px;
    return 0;
}

int img_decode(const void *data, size_t len, img_rgb *out, char err[IMG_ERR_MAX])
{
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    const uint8_t *b = data;
    out->w = out->h = 0;
    out->px = NULL;
    err[0] = '\0';
    if (!data || len < 8) {
        snprintf(err, IMG_ERR_MAX, "not an image (%zu bytes)", len);
        return -1;
    }
    if (b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
        return decode_jpeg(data, len, out, err);
    if (memcmp(b, png_magic, sizeof png_magic) == 0)
        return decode_png(data, len, out, err);
    snprintf(err, IMG_ERR_MAX, "not a JPEG or PNG (first bytes %02x %02x %02x %02x)", b[0], b[1],
             b[2], b[3]);
    return -1;
}

/* ---- resize + normalise ---- */

typedef struct tap {
    uint32_t i0, i1;
    float f; /* weight of i1 */
} tap;

static void make_taps(uint32_t src, uint32_t dst, tap *t)
{
    double scale = (double)src / (double)dst;
    for (uint32_t i = 0; i < dst; i++) {
        double s = ((double)i + 0.5) * scale - 0.5;
        if (s < 0)
            s = 0;
        uint32_t i0 = (uint32_t)s;
        if (i0 > src - 1)
            i0 = src - 1;
        uint32_t i1 = i0 + 1 < src ? i0 + 1 : src - 1;
        t[i].i0 = i0;
        t[i].i1 = i1;
        t[i].f = (float)(s - (double)i0);
        if (i0 == i1)
            t[i].f = 0.0f;
    }
}

void img_to_tensor(const img_rgb *src, uint32_t dw, uint32_t dh, const float mean[3],
                   const float std[3], float *dst)
{
    /* dw, dh are bounded by the caller (the package's preprocessing); the two
     * small tap tables live on the heap, falling back to nearest on OOM
     * would change results silently, so OOM writes zeros instead. */
    tap *tx = malloc(sizeof *tx * dw), *ty = malloc(sizeof *ty * dh);
    size_t plane = (size_t)dw * dh;
    if (!tx || !ty) {
        memset(dst, 0, sizeof *dst * plane * 3);
        free(tx);
        free(ty);
        return;
    }
    make_taps(src->w, dw, tx);
    make_taps(src->h, dh, ty);
    size_t stride = (size_t)src->w * 3;
    float scale[3], bias[3];
    for (int c = 0; c < 3; c++) {
        scale[c] = 1.0f / (255.0f * std[c]);
        bias[c] = -mean[c] / std[c];
    }
    for (uint32_t y = 0; y < dh; y++) {
        const uint8_t *r0 = src->px + stride * ty[y].i0;
        const uint8_t *r1 = src->px + stride * ty[y].i1;
        float fy = ty[y].f;
        for (uint32_t x = 0; x < dw; x++) {
            size_t a = (size_t)tx[x].i0 * 3, b = (size_t)tx[x].i1 * 3;
            float fx = tx[x].f;
            for (int c = 0; c < 3; c++) {
                float top = r0[a + c] + (r0[b + c] - r0[a + c]) * fx;
                float bot = r1[a + c] + (r1[b + c] - r1[a + c]) * fx;
                float v = top + (bot - top) * fy;
                dst[plane * c + (size_t)y * dw + x] = v * scale[c] + bias[c];
            }
        }
    }
    free(tx);
    free(ty);
}
