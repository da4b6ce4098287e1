/*
 * bench_plot — SVG charts for `ariadne bench --plot`, by hand: a chart is
 * a frame (title, plot area, axes with grid lines and labels) and series
 * drawn into the plot area through two scales, with the legend to the
 * right of it.
 */
#include "bench_plot.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define PLOT_WIDTH 900.0
#define PLOT_LEFT 80.0    /* room for the y axis' labels */
#define PLOT_RIGHT 620.0  /* the legend lies right of this */
#define PLOT_TOP 50.0
#define PLOT_HEIGHT 440.0
#define PLOT_BOTTOM (PLOT_HEIGHT - 60.0)
#define PLOT_CDF_POINTS 400 /* a CDF drawn with at most this many points */
#define PLOT_BAR_ROW 30.0

/* ------------------------------------------------------------------------
 * Text, colours, numbers
 * ------------------------------------------------------------------------ */

static void plot_text(FILE *out, const char *text)
{
    for (; *text; text++) {
        switch (*text) {
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '&': fputs("&amp;", out); break;
        case '"': fputs("&quot;", out); break;
        default: fputc(*text, out);
        }
    }
}

static const char *plot_colour(const char *system)
{
    if (strcmp(system, "ariadne") == 0)
        return "#1f6fd1";
    if (strcmp(system, "mpi") == 0)
        return "#d62728";
    if (strcmp(system, "shmem") == 0)
        return "#2ca02c";
    return "#555555";
}

/* A dash pattern per series of one system, so its variants differ. */
static const char *plot_dash(const char *const *systems, size_t index)
{
    static const char *const dashes[] = {"none", "7 4", "2 3", "10 3 2 3"};
    size_t same = 0;
    for (size_t i = 0; i < index; i++)
        same += strcmp(systems[i], systems[index]) == 0;
    return dashes[same % (sizeof dashes / sizeof dashes[0])];
}

/* A time in ns as text: "250 ns", "4.7 us", "1.2 ms". */
static void plot_time(char *text, size_t size, double ns)
{
    if (ns < 1e3)
        snprintf(text, size, "%.3g ns", ns);
    else if (ns < 1e6)
        snprintf(text, size, "%.3g us", ns / 1e3);
    else if (ns < 1e9)
        snprintf(text, size, "%.3g ms", ns / 1e6);
    else
        snprintf(text, size, "%.3g s", ns / 1e9);
}

/* A number with an SI prefix and a space for a unit: "350 k", "1.2 M",
 * "12 ". */
static void plot_si(char *text, size_t size, double value)
{
    if (value >= 1e9)
        snprintf(text, size, "%.3g G", value / 1e9);
    else if (value >= 1e6)
        snprintf(text, size, "%.3g M", value / 1e6);
    else if (value >= 1e3)
        snprintf(text, size, "%.3g k", value / 1e3);
    else
        snprintf(text, size, "%.3g ", value);
}

/* ------------------------------------------------------------------------
 * The frame
 * ------------------------------------------------------------------------ */

static FILE *plot_open(const char *path, double height, const char *title)
{
    FILE *out = fopen(path, "w");
    if (out == NULL)
        return NULL;
    fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                 "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
            PLOT_WIDTH, height, PLOT_WIDTH, height);
    fprintf(out, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(out, "<text x=\"%.0f\" y=\"28\" font-size=\"16\" font-weight=\"bold\">", PLOT_LEFT);
    plot_text(out, title);
    fprintf(out, "</text>\n");
    return out;
}

static int plot_close(FILE *out)
{
    fprintf(out, "</svg>\n");
    int failed = ferror(out);
    return fclose(out) != 0 || failed ? -1 : 0;
}

static void plot_frame(FILE *out, double bottom)
{
    fprintf(out, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
                 "stroke=\"#333\"/>\n", PLOT_LEFT, PLOT_TOP, PLOT_RIGHT - PLOT_LEFT,
            bottom - PLOT_TOP);
}

static void plot_grid_x(FILE *out, double x, double bottom, const char *label)
{
    fprintf(out, "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#ddd\"/>\n", x,
            PLOT_TOP, x, bottom);
    fprintf(out, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">", x, bottom + 16);
    plot_text(out, label);
    fprintf(out, "</text>\n");
}

static void plot_grid_y(FILE *out, double y, const char *label)
{
    fprintf(out, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
            PLOT_LEFT, y, PLOT_RIGHT, y);
    fprintf(out, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">", PLOT_LEFT - 6, y + 4);
    plot_text(out, label);
    fprintf(out, "</text>\n");
}

static void plot_axis_label(FILE *out, double bottom, const char *x_label, const char *y_label)
{
    fprintf(out, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">",
            (PLOT_LEFT + PLOT_RIGHT) / 2, bottom + 38);
    plot_text(out, x_label);
    fprintf(out, "</text>\n<text transform=\"translate(18 %.0f) rotate(-90)\" "
                 "text-anchor=\"middle\">", (PLOT_TOP + bottom) / 2);
    plot_text(out, y_label);
    fprintf(out, "</text>\n");
}

static void plot_legend(FILE *out, size_t index, const char *system, const char *dash,
                        const char *label)
{
    double y = PLOT_TOP + 10 + 20.0 * (double)index;
    fprintf(out, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"%s\" "
                 "stroke-width=\"2.5\" stroke-dasharray=\"%s\"/>\n", PLOT_RIGHT + 12, y,
            PLOT_RIGHT + 40, y, plot_colour(system), dash);
    fprintf(out, "<text x=\"%.0f\" y=\"%.0f\">", PLOT_RIGHT + 46, y + 4);
    plot_text(out, label);
    fprintf(out, "</text>\n");
}

/* ------------------------------------------------------------------------
 * Latency CDFs: x is log10 of the time, y the fraction of samples at most
 * that long.
 * ------------------------------------------------------------------------ */

typedef struct {
    double decade_low, decade_high; /* log10 bounds of the x axis */
} plot_log_axis_t;

static plot_log_axis_t plot_cdf_axis(const plot_cdf_series_t *series, size_t count)
{
    double low = INFINITY, high = -INFINITY;
    for (size_t s = 0; s < count; s++) {
        if (series[s].count == 0)
            continue;
        double first = series[s].values[0], last = series[s].values[series[s].count - 1];
        low = fmin(low, first > 0 ? first : 1);
        high = fmax(high, last > 0 ? last : 1);
    }
    if (!(low <= high))
        low = high = 1;
    plot_log_axis_t axis = {floor(log10(low)), ceil(log10(high))};
    if (axis.decade_high <= axis.decade_low)
        axis.decade_high = axis.decade_low + 1;
    return axis;
}

static double plot_log_x(plot_log_axis_t axis, double value)
{
    double v = log10(value > 0 ? value : pow(10, axis.decade_low));
    return PLOT_LEFT + (v - axis.decade_low) / (axis.decade_high - axis.decade_low) *
                           (PLOT_RIGHT - PLOT_LEFT);
}

static double plot_fraction_y(double fraction)
{
    return PLOT_BOTTOM - fraction * (PLOT_BOTTOM - PLOT_TOP);
}

static void plot_cdf_grid(FILE *out, plot_log_axis_t axis)
{
    char label[32];
    for (double d = axis.decade_low; d <= axis.decade_high; d++) {
        plot_time(label, sizeof label, pow(10, d));
        plot_grid_x(out, plot_log_x(axis, pow(10, d)), PLOT_BOTTOM, label);
    }
    static const double fractions[] = {0, 0.25, 0.5, 0.75, 0.9, 1};
    for (size_t i = 0; i < sizeof fractions / sizeof fractions[0]; i++) {
        snprintf(label, sizeof label, "%g", fractions[i]);
        plot_grid_y(out, plot_fraction_y(fractions[i]), label);
    }
}

static void plot_cdf_line(FILE *out, plot_log_axis_t axis, const plot_cdf_series_t *s,
                          const char *dash)
{
    fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
                 "stroke-dasharray=\"%s\" points=\"", plot_colour(s->system), dash);
    size_t step = s->count > PLOT_CDF_POINTS ? s->count / PLOT_CDF_POINTS : 1;
    for (size_t i = 0; i < s->count; i += step)
        fprintf(out, "%.1f,%.1f ", plot_log_x(axis, s->values[i]),
                plot_fraction_y(((double)i + 1) / (double)s->count));
    fprintf(out, "%.1f,%.1f\"/>\n", plot_log_x(axis, s->values[s->count - 1]),
            plot_fraction_y(1));
}

int plot_cdf(const char *path, const char *title, const plot_cdf_series_t *series,
             size_t count)
{
    FILE *out = plot_open(path, PLOT_HEIGHT, title);
    if (out == NULL)
        return -1;
    plot_log_axis_t axis = plot_cdf_axis(series, count);
    plot_cdf_grid(out, axis);
    plot_frame(out, PLOT_BOTTOM);
    plot_axis_label(out, PLOT_BOTTOM, "latency (log scale)", "fraction of samples at most this");
    const char *systems[PLOT_POINTS_MAX];
    for (size_t s = 0; s < count && s < PLOT_POINTS_MAX; s++) {
        systems[s] = series[s].system;
        const char *dash = plot_dash(systems, s);
        if (series[s].count > 0)
            plot_cdf_line(out, axis, &series[s], dash);
        plot_legend(out, s, series[s].system, dash, series[s].label);
    }
    return plot_close(out);
}

/* ------------------------------------------------------------------------
 * Bars: one row each, the median as a bar and the slow tail as a whisker.
 * ------------------------------------------------------------------------ */

static double plot_nice_step(double span)
{
    double step = pow(10, floor(log10(span / 5)));
    if (span / step > 20)
        step *= 5;
    else if (span / step > 10)
        step *= 2;
    return step;
}

static void plot_bar_row(FILE *out, const plot_bar_t *bar, double y, double scale,
                         const char *unit)
{
    double width = bar->value * scale;
    fprintf(out, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">", PLOT_LEFT + 150,
            y + 16);
    plot_text(out, bar->label);
    fprintf(out, "</text>\n<rect x=\"%.0f\" y=\"%.1f\" width=\"%.1f\" height=\"%.0f\" "
                 "fill=\"%s\"/>\n", PLOT_LEFT + 160, y + 4, width, PLOT_BAR_ROW - 8,
            plot_colour(bar->system));
    if (bar->tail > 0) {
        double x = PLOT_LEFT + 160 + bar->tail * scale;
        fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\" "
                     "stroke-width=\"2\"/>\n", x, y + 2, x, y + PLOT_BAR_ROW - 2);
    }
    char value[32];
    if (bar->value >= 1e4)
        plot_si(value, sizeof value, bar->value); /* "515 k" */
    else
        snprintf(value, sizeof value, "%.3g ", bar->value);
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">%s", PLOT_LEFT + 166 + width, y + 16, value);
    plot_text(out, unit);
    fprintf(out, "</text>\n");
}

int plot_bars(const char *path, const char *title, const char *unit, const plot_bar_t *bars,
              size_t count)
{
    double bottom = PLOT_TOP + PLOT_BAR_ROW * (double)(count > 0 ? count : 1) + 10;
    FILE *out = plot_open(path, bottom + 50, title);
    if (out == NULL)
        return -1;
    double top = 0;
    for (size_t i = 0; i < count; i++)
        top = fmax(top, fmax(bars[i].value, bars[i].tail));
    if (top <= 0)
        top = 1;
    double span = PLOT_RIGHT + 120 - (PLOT_LEFT + 160), scale = span / (top * 1.25);
    double step = plot_nice_step(top * 1.25);
    char label[32];
    for (double v = 0; v <= top * 1.25; v += step) {
        plot_si(label, sizeof label, v);
        plot_grid_x(out, PLOT_LEFT + 160 + v * scale, bottom, label);
    }
    for (size_t i = 0; i < count; i++)
        plot_bar_row(out, &bars[i], PLOT_TOP + PLOT_BAR_ROW * (double)i, scale, unit);
    fprintf(out, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">median (bar) and slow "
                 "tail (whisker), ", (PLOT_LEFT + PLOT_RIGHT) / 2 + 80, bottom + 38);
    plot_text(out, unit);
    fprintf(out, "</text>\n");
    return plot_close(out);
}

/* ------------------------------------------------------------------------
 * Lines: x linear over the counts given, y logarithmic.
 * ------------------------------------------------------------------------ */

typedef struct {
    double x_low, x_high, decade_low, decade_high;
} plot_xy_axis_t;

static plot_xy_axis_t plot_lines_axis(const plot_line_t *lines, size_t count)
{
    plot_xy_axis_t a = {INFINITY, -INFINITY, INFINITY, -INFINITY};
    for (size_t l = 0; l < count; l++)
        for (size_t i = 0; i < lines[l].count; i++) {
            a.x_low = fmin(a.x_low, lines[l].x[i]);
            a.x_high = fmax(a.x_high, lines[l].x[i]);
            a.decade_low = fmin(a.decade_low, log10(fmax(lines[l].y[i], 1e-9)));
            a.decade_high = fmax(a.decade_high, log10(fmax(lines[l].y[i], 1e-9)));
        }
    if (!(a.x_low <= a.x_high))
        a = (plot_xy_axis_t){1, 2, 0, 1};
    a.x_low -= 0.5;
    a.x_high += 0.5;
    a.decade_low = floor(a.decade_low);
    a.decade_high = fmax(ceil(a.decade_high), a.decade_low + 1);
    return a;
}

static double plot_xy_x(plot_xy_axis_t a, double x)
{
    return PLOT_LEFT + (x - a.x_low) / (a.x_high - a.x_low) * (PLOT_RIGHT - PLOT_LEFT);
}

static double plot_xy_y(plot_xy_axis_t a, double y)
{
    double v = log10(fmax(y, 1e-9));
    return PLOT_BOTTOM - (v - a.decade_low) / (a.decade_high - a.decade_low) *
                             (PLOT_BOTTOM - PLOT_TOP);
}

static void plot_line(FILE *out, plot_xy_axis_t a, const plot_line_t *line, const char *dash)
{
    const char *colour = plot_colour(line->system);
    fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
                 "stroke-dasharray=\"%s\" points=\"", colour, dash);
    for (size_t i = 0; i < line->count; i++)
        fprintf(out, "%.1f,%.1f ", plot_xy_x(a, line->x[i]), plot_xy_y(a, line->y[i]));
    fprintf(out, "\"/>\n");
    for (size_t i = 0; i < line->count; i++)
        fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>\n",
                plot_xy_x(a, line->x[i]), plot_xy_y(a, line->y[i]), colour);
}

int plot_lines(const char *path, const char *title, const char *x_label, const char *y_unit,
               const plot_line_t *lines, size_t count)
{
    FILE *out = plot_open(path, PLOT_HEIGHT, title);
    if (out == NULL)
        return -1;
    plot_xy_axis_t a = plot_lines_axis(lines, count);
    char label[32];
    for (double x = ceil(a.x_low); x <= a.x_high; x++) {
        snprintf(label, sizeof label, "%g", x);
        plot_grid_x(out, plot_xy_x(a, x), PLOT_BOTTOM, label);
    }
    for (double d = a.decade_low; d <= a.decade_high; d++) {
        plot_si(label, sizeof label, pow(10, d));
        plot_grid_y(out, plot_xy_y(a, pow(10, d)), label);
    }
    plot_frame(out, PLOT_BOTTOM);
    plot_axis_label(out, PLOT_BOTTOM, x_label, y_unit);
    const char *systems[PLOT_POINTS_MAX];
    for (size_t l = 0; l < count && l < PLOT_POINTS_MAX; l++) {
        systems[l] = lines[l].system;
        const char *dash = plot_dash(systems, l);
        plot_line(out, a, &lines[l], dash);
        plot_legend(out, l, lines[l].system, dash, lines[l].label);
    }
    return plot_close(out);
}
