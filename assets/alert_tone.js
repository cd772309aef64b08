/* The wall's alert tone: two short beeps made with the Web Audio API (no audio file, nothing fetched).
   Browsers keep audio suspended until someone has clicked on the page; the first click resumes it
   (a kiosk wall can start Chromium with --autoplay-policy=no-user-gesture-required). */
(function () {
  var ctx = null;

  function context() {
    var Ctor = window.AudioContext || window.webkitAudioContext;
    if (!ctx && Ctor) {
      ctx = new Ctor();
    }
    return ctx;
  }

  function beep(audio, at, frequency) {
    var osc = audio.createOscillator();
    var gain = audio.createGain();
    osc.type = "sine";
    osc.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.3, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.22);
    osc.connect(gain);
    gain.connect(audio.destination);
    osc.start(at);
    osc.stop(at + 0.25);
  }

  window.onemapAlertTone = function () {
    var audio = context();
    if (!audio) {
      return;
    }
    if (audio.state === "suspended") {
      audio.resume().catch(function () {});
    }
    beep(audio, audio.currentTime, 880);
    beep(audio, audio.currentTime + 0.3, 660);
  };

  document.addEventListener("pointerdown", function () {
    var audio = context();
    if (audio && audio.state === "suspended") {
      audio.resume().catch(function () {});
    }
  });
})();
