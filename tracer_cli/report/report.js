// Step navigation: j/k or arrows, Home/End. A card's picture shows the part of the screen that
// matters; f, Enter or a click on it shows the whole screen at full size (Esc or a click: back).
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
    card.querySelectorAll(".frame").forEach(function (frame) {
      frame.addEventListener("click", function () { select(i); toggleFull(); });
    });
    card.addEventListener("focusin", function () { if (current !== i) select(i); });
  });

  function fullShot() { return document.querySelector(".shot.full"); }

  // Shows the current card's whole screen (force true: even if another one is shown; false:
  // none); closing it takes the focus back to the card's picture.
  function toggleFull(force) {
    var open = fullShot();
    var shot = cards[current] && cards[current].querySelector(".shot");
    if (open) open.classList.remove("full");
    if (force === false || (open && force !== true)) {
      if (open && open.contains(document.activeElement)) {
        open.querySelector(".frame").focus({ preventScroll: true });
      }
      return;
    }
    if (!shot) return;
    shot.classList.add("full");
    shot.querySelector(".whole").focus({ preventScroll: true });
  }

  function select(i) {
    if (!cards.length) return;
    i = Math.max(0, Math.min(cards.length - 1, i));
    if (i === current) return;
    var wasFull = !!fullShot();
    if (current >= 0) {
      cards[current].classList.remove("current");
      thumbs[current].classList.remove("current");
    }
    current = i;
    cards[i].classList.add("current");
    thumbs[i].classList.add("current");
    showThumb(thumbs[i]);
    if (wasFull) toggleFull(true);
    document.body.dataset.current = cards[i].dataset.step;
  }

  // The filmstrip scrolled sideways to show a thumbnail (the page itself never moves: a click
  // on a picture must not scroll it away from under the pointer).
  function showThumb(thumb) {
    var strip = thumb.parentNode.getBoundingClientRect(), box = thumb.getBoundingClientRect();
    if (box.left < strip.left) thumb.parentNode.scrollLeft -= strip.left - box.left + 24;
    else if (box.right > strip.right) thumb.parentNode.scrollLeft += box.right - strip.right + 24;
  }

  function go(i, scroll) {
    if (!cards.length) return;
    select(i);
    if (scroll) cards[current].scrollIntoView({ block: "start" });
    if (!fullShot()) cards[current].focus({ preventScroll: true });
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
