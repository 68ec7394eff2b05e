/**
 * Renders an SVG (e.g. plotLossCurves' output) to PNG with @resvg/resvg-js, for Node, using the
 * system's fonts for the labels. It draws nothing itself (src/train/plot.ts does).
 */
import { Resvg } from "@resvg/resvg-js";

export function svgToPng(svg: string, scale = 1): Uint8Array {
  const resvg = new Resvg(svg, {
    background: "#ffffff",
    fitTo: scale === 1 ? { mode: "original" } : { mode: "zoom", value: scale },
    font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" },
  });
  return new Uint8Array(resvg.render().asPng());
}
