// The phone's outbox (the worker page): a tap on a task's button is queued in local storage with a
// fresh key, shown on its card as "waiting to send", and sent until the server answers. The server
// applies each key at most once, so resending after a lost answer never does an action twice.
// A case move (核实 / 核查 on a case of the worker's grid) is queued the same way, keyed by case id and
// move ({case, action, answer, note}); one move per case waits at a time. A move the server refused
// (another got there first: 409) is answered and named in the banner, never dropped quietly.
(function () {
    const memo = {lastFlush: 0};

    function newKey() {
        // crypto.getRandomValues works on plain http too (randomUUID needs a secure context).
        const bytes = new Uint8Array(16);
        window.crypto.getRandomValues(bytes);
        return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
    }

    function mine(outbox, me) {
        return (outbox || []).filter((e) => e.user === me);
    }

    function pickFor(task, values, ids) {
        const i = (ids || []).findIndex((id) => id.task === task);
        return i < 0 ? null : values[i];
    }

    // Tell the page when the browser is back online, so the outbox is sent without waiting.
    window.addEventListener('online', function () {
        if (document.getElementById('worker-inbox')) {
            window.dash_clientside.set_props('worker-online', {data: Date.now()});
        }
    });

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        outbox: {
            enqueue: function (clicks, notes, noteIds, photos, photoIds, outbox, me) {
                const dc = window.dash_clientside;
                const ctx = dc.callback_context;
                const tapped = ctx.triggered_id;
                if (!tapped || typeof tapped !== 'object' || !ctx.triggered.some((x) => x.value)) {
                    return dc.no_update;  // new buttons appearing, not a tap
                }
                const box = (outbox || []).slice();
                if (box.some((e) => e.user === me && e.task === tapped.task)) {
                    return dc.no_update;  // one action per task waits at a time
                }
                const photo = tapped.action === 'resolve' ? pickFor(tapped.task, photos, photoIds) : null;
                box.push({
                    key: newKey(),
                    user: me,
                    task: tapped.task,
                    action: tapped.action,
                    note: pickFor(tapped.task, notes, noteIds) || '',
                    photo: photo || null,
                    at: Date.now(),
                });
                return box;
            },

            enqueueCase: function (clicks, notes, noteIds, outbox, me, texts) {
                const dc = window.dash_clientside;
                const ctx = dc.callback_context;
                const tapped = ctx.triggered_id;
                if (!tapped || typeof tapped !== 'object' || !ctx.triggered.some((x) => x.value)) {
                    return dc.no_update;
                }
                const box = (outbox || []).slice();
                if (box.some((e) => e.user === me && e.case === tapped.case && e.action === tapped.action)) {
                    return dc.no_update;
                }
                // What the box shows: a tap within the note's debounce after typing must not lose the note.
                const field = document.querySelector('#site-' + tapped.case + ' textarea');
                const i = (noteIds || []).findIndex((id) => id.case === tapped.case);
                const note = ((field && field.value) || (i < 0 ? '' : notes[i]) || '').trim();
                const answer = texts.site.yes.includes(tapped.answer);
                if (!answer && !note) {
                    dc.set_props('worker-notices', {data: [texts.site.note_required]});
                    return dc.no_update;  // ops/cases refuses a negative answer without a note: say so now
                }
                box.push({
                    key: newKey(),
                    user: me,
                    case: tapped.case,
                    action: tapped.action,
                    answer: answer,
                    button: tapped.answer,
                    note: note,
                    at: Date.now(),
                });
                return box;
            },

            showCases: function (outbox, _checks, pendingIds, me, texts) {
                const waiting = mine(outbox, me);
                return (pendingIds || []).map(function (id) {
                    const e = waiting.find((x) => x.case === id.case);
                    return e ? texts.pending.replace('{action}', texts.site.answers[e.button] || e.button) : '';
                });
            },

            flush: function (outbox, _n, _online, me, texts) {
                const dc = window.dash_clientside;
                const waiting = mine(outbox, me);
                if (!waiting.length || !navigator.onLine) {
                    return dc.no_update;
                }
                const now = Date.now();
                // A new tap goes out at once; the poll's ticks resend what is still waiting, now and then.
                if (dc.callback_context.triggered_id === 'worker-poll' && now - memo.lastFlush < texts.retry_ms) {
                    return dc.no_update;
                }
                memo.lastFlush = now;
                return {entries: waiting, at: now};
            },

            settle: function (sent, outbox) {
                const dc = window.dash_clientside;
                const answered = ((sent && sent.results) || []).filter((r) => r.final);
                if (!answered.length) {
                    return [dc.no_update, dc.no_update];
                }
                const done = new Set(answered.map((r) => r.key));
                const refused = answered.filter((r) => !r.ok).map((r) => r.text);
                return [(outbox || []).filter((e) => !done.has(e.key)), refused];
            },

            show: function (outbox, notices, _inbox, _n, pendingIds, me, texts) {
                const waiting = mine(outbox, me);
                const marks = (pendingIds || []).map(function (id) {
                    const e = waiting.find((x) => x.task === id.task);
                    return e ? texts.pending.replace('{action}', texts.actions[e.action] || e.action) : '';
                });
                const now = Date.now();
                const lines = (notices || []).slice();
                if (waiting.some((e) => !navigator.onLine || now - e.at > texts.limit_ms)) {
                    lines.unshift(texts.offline.replace('{n}', waiting.length));
                }
                return [marks, lines.join('\n')];
            },
        },
    });
})();
