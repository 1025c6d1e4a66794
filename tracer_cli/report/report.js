// Step navigation: j/k or arrows, Home/End; f or a click shows a screenshot at full size.
(function () {
  "use strict";
  var cards = Array.prototype.slice.call(document.querySelectorAll("main .card"));
  var thumbs = Array.prototype.slice.call(document.querySelectorAll("#filmstrip a"));
  var current = -1;

  thumbs.forEach(function (thumb, i) {
    var shot = cards[i] && cards[i].querySelector(".shot img");
    if (shot) thumb.querySelector("img").src = shot.src;  // the same data, not a second copy
    thumb.addEventListener("click", function (event) { event.preventDefault(); go(i, true); });
  });
  cards.forEach(function (card, i) {
    var frame = card.querySelector(".frame");
    if (frame) frame.addEventListener("click", function () { go(i, false); toggleFull(); });
  });

  function fullShot() { return document.querySelector(".shot.full"); }

  function toggleFull(force) {
    var open = fullShot();
    if (open) open.classList.remove("full");
    if (force === false || (open && force !== true)) return;
    var shot = cards[current] && cards[current].querySelector(".shot");
    if (shot) shot.classList.add("full");
  }

  function go(i, scroll) {
    if (!cards.length) return;
    i = Math.max(0, Math.min(cards.length - 1, i));
    var wasFull = !!fullShot();
    if (current >= 0) {
      cards[current].classList.remove("current");
      thumbs[current].classList.remove("current");
    }
    current = i;
    cards[i].classList.add("current");
    thumbs[i].classList.add("current");
    thumbs[i].scrollIntoView({ block: "nearest", inline: "nearest" });
    if (wasFull) toggleFull(true);
    if (scroll) cards[i].scrollIntoView({ block: "start" });
    cards[i].focus({ preventScroll: true });
    document.body.dataset.current = cards[i].dataset.step;
  }

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    var full = !!fullShot();
    switch (event.key) {
      case "ArrowRight": case "j": case "n": go(current + 1, true); break;
      case "ArrowLeft": case "k": case "p": go(current - 1, true); break;
      case "ArrowDown": if (full) return; go(current + 1, true); break;
      case "ArrowUp": if (full) return; go(current - 1, true); break;
      case "Home": go(0, true); break;
      case "End": go(cards.length - 1, true); break;
      case "f": case "Enter": toggleFull(); break;
      case "Escape": toggleFull(false); break;
      default: return;
    }
    event.preventDefault();
  });

  var start = 0;
  var match = /^#step-(\d+)$/.exec(window.location.hash);
  if (match) {
    cards.forEach(function (card, i) { if (card.dataset.step === match[1]) start = i; });
  }
  go(start, !!match);
})();
