# Production
region    = "eu-west-1"
image_tag = "1.0.0" # set by CI
app = {
  image_tag = "1.0.0"
  name      = "shop" // not this
}
notes = <<EOT
image_tag = "1.0.0"
EOT
