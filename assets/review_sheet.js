/* The review page's PNG export: the map and every chart drawn by plotly.js onto one canvas under a
   header (title, period, filters, map mode), downloaded as one file. Nothing leaves the browser. */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    review: {
        sheet: async function (n, header) {
            const noUpdate = window.dash_clientside.no_update;
            if (!n || !header || !header.graphs) { return [noUpdate, noUpdate]; }
            const width = 2400, pad = 40, gap = 24, half = (width - 2 * pad - gap) / 2;
            const parts = [];
            for (const g of header.graphs) {
                const gd = document.querySelector('#' + g.id + ' .js-plotly-plot');
                if (!gd || !gd._fullLayout) { continue; }
                const w = g.full ? width - 2 * pad : half;
                // Keep each graph's on-screen proportions, so a chart reads as it does on the page.
                const h = Math.round(w * gd.clientHeight / Math.max(gd.clientWidth, 1));
                const url = await Plotly.toImage(gd, {format: 'png', width: w, height: Math.max(h, 240)});
                const img = new Image();
                await new Promise((ok, fail) => { img.onload = ok; img.onerror = fail; img.src = url; });
                parts.push({img: img, full: g.full});
            }
            // Place: full-width graphs on their own row, the others two to a row.
            let y = pad + 64 + 40 * header.lines.length + gap;
            const spots = [];
            let col = 0, rowHeight = 0;
            for (const p of parts) {
                if (p.full || col === 2) { y += rowHeight + (rowHeight ? gap : 0); col = 0; rowHeight = 0; }
                spots.push({img: p.img, x: pad + (p.full ? 0 : col * (half + gap)), y: y});
                rowHeight = Math.max(rowHeight, p.img.height);
                col = p.full ? 2 : col + 1;
            }
            const canvas = document.createElement('canvas');
            canvas.width = width;
            canvas.height = y + rowHeight + pad;
            const c = canvas.getContext('2d');
            c.fillStyle = '#0b1220';
            c.fillRect(0, 0, canvas.width, canvas.height);
            c.fillStyle = '#e6edf7';
            c.textBaseline = 'top';
            c.font = 'bold 44px sans-serif';
            c.fillText(header.title, pad, pad);
            c.font = '28px sans-serif';
            header.lines.forEach((line, i) => c.fillText(line, pad, pad + 64 + 40 * i, width - 2 * pad));
            spots.forEach((s) => c.drawImage(s.img, s.x, s.y));
            const blob = await new Promise((ok) => canvas.toBlob(ok, 'image/png'));
            const link = document.createElement('a');
            link.href = URL.createObjectURL(blob);
            link.download = header.filename;
            document.body.appendChild(link);
            link.click();
            link.remove();
            setTimeout(() => URL.revokeObjectURL(link.href), 60000);
            return [String(parts.length), [header.title].concat(header.lines).join('\n')];
        },
    },
});
