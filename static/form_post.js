// Submits the authorization response to the application (OAuth 2.0 Form Post Response Mode).
// Without JavaScript the visible button does the same.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("form-post");
  if (form) { form.submit(); }
});
