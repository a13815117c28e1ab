// The People list: select everyone on the page from the header, then, if the filter finds more,
// everyone it finds. Without script the bulk bar's "all N found" choice does the same.
document.addEventListener("DOMContentLoaded", () => {
  const page = document.getElementById("select-page");
  const offer = document.getElementById("select-matching");
  const scope = document.querySelector('#bulk select[name="scope"]');
  if (!page || !offer || !scope) return;
  const boxes = [...document.querySelectorAll('#bulk input[name="person"]')];
  const more = Number(offer.dataset.total) > boxes.length;
  const update = () => {
    const n = boxes.filter((b) => b.checked).length;
    page.checked = n === boxes.length;
    page.indeterminate = n > 0 && n < boxes.length;
    offer.hidden = !(more && page.checked);
    if (n < boxes.length) scope.value = "selected";
    offer.querySelector("span").textContent = scope.value === "filter" ? offer.dataset.all : offer.dataset.page;
    offer.querySelector("button").hidden = scope.value === "filter";
  };
  page.hidden = false;
  page.addEventListener("change", () => {
    boxes.forEach((b) => { b.checked = page.checked; });
    update();
  });
  boxes.forEach((b) => b.addEventListener("change", update));
  offer.querySelector("button").addEventListener("click", () => {
    scope.value = "filter";
    update();
  });
  scope.addEventListener("change", update);
});
