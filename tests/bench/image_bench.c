/* Benchmark of image_process: images/s for one JPEG into the configured
 * variants (IMAGE_VARIANTS + the sanitised full-size image), beside the
 * libvips ceiling in the same run (the same thumbnails and encodes made one
 * after another with plain libvips calls, no checks, no stripping), and the
 * process's peak RSS. Usage: image_bench [file.jpg] [iterations]; without a
 * file a 4000x3000 (12-megapixel) JPEG is generated in memory first.
 * image_bench --write file.jpg [width height] writes that generated JPEG (or
 * one of the given size) and exits, so the other benchmarks (vipsthumbnail,
 * uploads) use the same kind of picture. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <vips/vips.h>

#include "config.h"
#include "image.h"

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now_s(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

/* CPU seconds of the whole process: what an image costs on a machine whose
 * other work makes wall-clock times vary. */
static double cpu_s(void)
{
    return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static long peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

#define GEN_NOISE_SIGMA 6.0

/* A photo-like 12-megapixel JPEG: colour gradients over the whole 0..255
 * range with noise in every band, so its size and decode cost are those of a
 * camera picture (a few MB at Q90), not of a flat or clipped image. */
static void *generate(int width, int height, size_t *len)
{
    VipsImage *t[10] = {0};
    void *buf = NULL;
    double scale[] = {255.0 / width, 255.0 / height}, offset[] = {0, 0};
    if (!vips_xyz(&t[0], width, height, NULL) &&
        !vips_linear(t[0], &t[1], scale, offset, 2, NULL) && !vips_bandmean(t[1], &t[2], NULL) &&
        !vips_bandjoin2(t[1], t[2], &t[3], NULL)) {
        for (int i = 4; i < 7; i++) {
            if (vips_gaussnoise(&t[i], width, height, "sigma", GEN_NOISE_SIGMA, "mean", 0.0,
                                NULL)) {
                goto out;
            }
        }
        if (!vips_bandjoin(&t[4], &t[7], 3, NULL) && !vips_add(t[3], t[7], &t[8], NULL) &&
            !vips_cast(t[8], &t[9], VIPS_FORMAT_UCHAR, NULL)) {
            vips_image_write_to_buffer(t[9], ".jpg[Q=90]", &buf, len, NULL);
        }
    }
out:
    for (int i = 0; i < 10; i++) {
        if (t[i]) {
            g_object_unref(t[i]);
        }
    }
    return buf;
}

static void *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    void *buf = NULL;
    if (!f || fseek(f, 0, SEEK_END) || (*len = (size_t)ftell(f)) == 0 || fseek(f, 0, SEEK_SET) ||
        !(buf = malloc(*len)) || fread(buf, 1, *len, f) != *len) {
        free(buf);
        buf = NULL;
    }
    if (f) {
        fclose(f);
    }
    return buf;
}

/* The ceiling: the same outputs with nothing but libvips. */
static int ceiling_once(void *buf, size_t len, const struct variant_spec *specs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int edge = specs[i].max_edge ? specs[i].max_edge : VIPS_MAX_COORD;
        VipsImage *t = NULL;
        void *out = NULL;
        size_t olen;
        if (vips_thumbnail_buffer(buf, len, &t, edge, "height", edge, "size", VIPS_SIZE_DOWN,
                                  NULL)) {
            return -1;
        }
        int bad = specs[i].format == IMAGE_FORMAT_WEBP
                      ? vips_webpsave_buffer(t, &out, &olen, "Q", specs[i].quality, "effort",
                                             (int)cfg.image_webp_effort, NULL)
                      : vips_jpegsave_buffer(t, &out, &olen, "Q", specs[i].quality, NULL);
        g_object_unref(t);
        g_free(out);
        if (bad) {
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    char err[256];
    if (config_load(err, sizeof(err)) != SC_OK || image_init() != SC_OK) {
        fprintf(stderr, "image_bench: %s\n", err);
        return 1;
    }
    size_t len = 0;
    if ((argc == 3 || argc == 5) && !strcmp(argv[1], "--write")) {
        void *img =
            generate(argc == 5 ? atoi(argv[3]) : 4000, argc == 5 ? atoi(argv[4]) : 3000, &len);
        FILE *f = img ? fopen(argv[2], "wb") : NULL;
        int bad = !f || fwrite(img, 1, len, f) != len;
        bad |= f && fclose(f);
        g_free(img);
        image_shutdown();
        if (bad) {
            fprintf(stderr, "image_bench: cannot write %s\n", argv[2]);
        }
        return bad;
    }
    void *buf = argc > 1 ? slurp(argv[1], &len) : generate(4000, 3000, &len);
    int iterations = argc > 2 ? atoi(argv[2]) : 10;
    struct variant_spec specs[IMAGE_MAX_VARIANTS + 1];
    size_t n;
    struct image_info info;
    if (!buf || iterations < 1 || image_specs_from_config(specs, &n, err, sizeof(err)) != SC_OK ||
        image_probe(buf, len, &info, err, sizeof(err)) != SC_OK) {
        fprintf(stderr, "image_bench: no usable input (%s)\n", err);
        return 1;
    }
    long rss_before = peak_rss_mib();
    struct image_output outs[IMAGE_MAX_VARIANTS + 1];
    double t0 = now_s(), c0 = cpu_s();
    for (int i = 0; i < iterations; i++) {
        if (image_process(buf, len, specs, n, outs, err, sizeof(err)) != SC_OK) {
            fprintf(stderr, "image_bench: %s\n", err);
            return 1;
        }
        image_output_free(outs, n);
    }
    double ours = (now_s() - t0) / iterations, ours_cpu = (cpu_s() - c0) / iterations;
    long rss_ours = peak_rss_mib();
    t0 = now_s();
    c0 = cpu_s();
    for (int i = 0; i < iterations; i++) {
        if (ceiling_once(buf, len, specs, n)) {
            fprintf(stderr, "image_bench: libvips: %s\n", vips_error_buffer());
            return 1;
        }
    }
    double ceiling = (now_s() - t0) / iterations, ceiling_cpu = (cpu_s() - c0) / iterations;
    printf("input: %dx%d %s, %zu bytes; variants: %s + full; %d iterations; VIPS_CONCURRENCY=%d\n",
           info.width, info.height, filetype_mime(info.type), len, cfg.image_variants, iterations,
           vips_concurrency_get());
    printf("%-34s %10s %10s %12s\n", "", "ms/image", "images/s", "CPU ms/image");
    printf("%-34s %10.1f %10.2f %12.1f\n", "image_process (concurrent)", ours * 1e3, 1 / ours,
           ours_cpu * 1e3);
    printf("%-34s %10.1f %10.2f %12.1f\n", "libvips ceiling (sequential)", ceiling * 1e3,
           1 / ceiling, ceiling_cpu * 1e3);
    printf("ratio: %.0f%% of the ceiling\n", 100 * ceiling / ours);
    printf("peak RSS: %ld MiB before processing, %ld MiB after image_process\n", rss_before,
           rss_ours);
    /* For the bench scripts. */
    printf("RESULT ms_per_image=%.1f ceiling_ms=%.1f cpu_ms_per_image=%.1f ceiling_cpu_ms=%.1f "
           "peak_rss_mib=%ld\n",
           ours * 1e3, ceiling * 1e3, ours_cpu * 1e3, ceiling_cpu * 1e3, rss_ours);
    if (argc > 1) {
        free(buf);
    } else {
        g_free(buf);
    }
    image_shutdown();
    return 0;
}
