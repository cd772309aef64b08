// The live badge tells the truth: the server poll writes a heartbeat with every answer; this watchdog
// runs in the browser (so it works when the server is dead) and, once the last answer is older than
// the limit, shows "disconnected" with the data's age. The next answer's own badge text restores it.
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    liveness: {
        watch: function (_n, beat) {
            const noUpdate = window.dash_clientside.no_update;
            if (!beat) {
                return [noUpdate, noUpdate];
            }
            const seen = (window.onemapLiveness = window.onemapLiveness || {});
            const id = window.dash_clientside.callback_context.inputs_list[1].id;
            const now = Date.now();
            const last = seen[id];
            if (!last || last.at !== beat.at) {
                // A new answer: the data is fresh as of now, on this browser's own clock.
                seen[id] = {at: beat.at, seen: now};
                return [noUpdate, noUpdate];
            }
            const age = now - last.seen;
            if (age <= beat.limit_ms) {
                return [noUpdate, noUpdate];
            }
            const s = Math.round(age / 1000);
            const text = s < 120 ? beat.seconds.replace('{s}', s) : beat.minutes.replace('{m}', Math.floor(s / 60));
            return [text, 'red'];
        },
    },
});
